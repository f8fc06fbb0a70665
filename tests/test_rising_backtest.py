"""The rising backtest's parts on hand-made logs: injections, the null, the baselines and the scoring."""
from __future__ import annotations

import numpy as np
import pandas as pd

from fincommerce.config import DAY, HOUR
from fincommerce.offline import rising_backtest as rb
from fincommerce.offline.bursts import Log, algolia_flags, amazon_flags, inject_bursts, shuffle_within_lifetime
from fincommerce.trending.rising import RisingSettings

T0 = 1_700_000_000.0


def _log(seed: int = 0, n: int = 4000, days: float = 10) -> Log:
    rng = np.random.default_rng(seed)
    return Log.from_events(pd.DataFrame({"timestamp": T0 + rng.uniform(0, days * DAY, n),
                                         "product_id": [f"p{i}" for i in rng.integers(0, 50, n)]}))


def test_bursts_follow_the_rule_and_the_seed() -> None:
    log = _log()
    injected, bursts = inject_bursts(log, 3, 10, seed=1, warmup=2 * DAY)
    again, same = inject_bursts(log, 3, 10, seed=1, warmup=2 * DAY)
    pd.testing.assert_frame_equal(bursts, same)
    assert np.array_equal(injected.t, again.t) and len(injected.t) == len(log.t) + bursts.extra.sum()
    own = np.bincount(log.p, minlength=log.n_products)[bursts["product"]] / (log.t[-1] - log.t[0]) * 6 * HOUR
    assert (bursts.extra == np.maximum(np.rint(3 * own), 6)).all() and (bursts.start >= log.t[0] + 2 * DAY).all()
    assert np.all(np.diff(injected.t) >= 0)


def test_the_null_keeps_each_products_events_and_lifetime() -> None:
    log = _log()
    null = shuffle_within_lifetime(log, 3)
    assert np.array_equal(np.bincount(null.p), np.bincount(log.p)) and not np.array_equal(null.t, log.t)
    for p in range(5):
        assert log.t[log.p == p].min() <= null.t[null.p == p].min() <= null.t[null.p == p].max() <= log.t[
            log.p == p].max()


def test_baselines_on_known_counts() -> None:
    now = T0 + 20 * DAY
    t = np.concatenate([now - np.linspace(0, 2.9, 5) * HOUR, now - 4 * HOUR + np.zeros(1),  # a: 5 after 1 → +4
                        now - np.linspace(0, 2.9, 3) * HOUR, now - 4 * HOUR + np.zeros(3),  # b: 3 after 3 → flat
                        now - np.linspace(0.1, 15.9, 300) * DAY, now - np.linspace(0, 0.9, 60) * HOUR])  # c
    p = np.repeat([0, 0, 1, 1, 2, 2], [5, 1, 3, 3, 300, 60])
    order = np.argsort(t)
    log = Log(t[order], p[order], ["a", "b", "c"])
    assert amazon_flags(log, now).tolist() == [2, 0]  # c: 60 after 0; a: 5 after 1; b did not rise
    assert algolia_flags(log, now).tolist() == [2]  # only c reaches the 250-event floor, and its day is up


def test_scoring_counts_a_listing_within_two_hours_and_the_days_flagged() -> None:
    s = rb.BacktestSettings(RisingSettings())
    grid = T0 + np.arange(0, 12) * 3600.0
    flags = [np.array([7]) if i in (3, 9) else np.array([], dtype=np.int64) for i in range(12)]
    bursts = pd.DataFrame({"product": [7, 7], "start": [T0 + 1.5 * HOUR, T0 + 4.5 * HOUR], "extra": [6, 6],
                           "expected_6h": [0.1, 0.1]})
    out = rb.burst_outcomes(flags, grid, bursts, s)
    assert out.found.tolist() == [True, False] and out.delay_hours.tolist() == [1.5, 4.5]
    assert rb.flagged_days(flags, grid, 8).tolist() == [0] * 7 + [1]
    assert abs(rb.floor_recall_bound(2, 6) - 0.6488) < 1e-4
