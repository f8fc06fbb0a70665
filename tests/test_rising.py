"""Rising now: the live index against the definition written out with pandas and scipy's own BH, on random
data added out of order, plus a known answer, the bad inputs and the API/CLI paths."""
from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import HOUR, PRODUCTS, T0
from scipy.stats import false_discovery_control, nbinom

from fincommerce import Settings, Workbench
from fincommerce.errors import ValidationError
from fincommerce.schema import INTERACTION_TYPES, INTERACTION_WEIGHTS
from fincommerce.trending import TrendingIndex
from fincommerce.trending.rising import RisingIndex, RisingSettings, rising_top

SET = RisingSettings(short_half_life_hours=1, long_half_life_hours=24, baseline_hours=48, prior_hours=24, alpha=0.05)


def brute_force(df: pd.DataFrame, now: float, timeframe: float, min_events: int, category: str | None = None,
                s: RisingSettings = SET) -> pd.DataFrame:
    """Every product's test, computed the obvious way from the events."""
    short, long, base, prior = (s.short_half_life_hours * HOUR, s.long_half_life_hours * HOUR,
                                s.baseline_hours * HOUR, s.prior_hours * HOUR)
    start = max(now - base, df.timestamp.min())
    d = df[(df.timestamp >= now - base) & (df.timestamp <= now)]
    if category is not None:
        d = d[d.category == category]
    recent = d[d.timestamp >= now - timeframe]
    old = d[d.timestamp < now - timeframe]
    exposure = long / math.log(2) * (1 - 0.5 ** ((now - timeframe - start) / long))
    decayed = (0.5 ** ((now - timeframe - old.timestamp) / long)).groupby(old.product_id).sum()
    prior_rate = decayed.sum() / (d.product_id.nunique() * exposure)
    n = recent.groupby("product_id").size()
    w = (0.5 ** ((now - recent.timestamp) / short)).groupby(recent.product_id).sum()
    out = pd.DataFrame({"n": n, "w": w})
    out = out[out.n >= min_events]
    out["L"] = decayed.reindex(out.index, fill_value=0.0)
    out["b_events"] = old.groupby("product_id").size().reindex(out.index, fill_value=0)
    others = decayed.sum() - out.L  # every other product in view, recent against baseline
    g = np.maximum(1.0, (len(recent) - out.n) / timeframe / (others / exposure)).where(others > 0, 1.0)
    a, b = out.L + prior_rate * prior, (exposure + prior) / (g if s.traffic_adjusted else 1.0)
    out["p"] = nbinom.sf(out.n - 1, a, b / (b + timeframe))
    out["rate"] = a / b
    out["uptick"] = out.w / (short / math.log(2) * (1 - 0.5 ** (timeframe / short))) / out.rate
    out["q"] = false_discovery_control(out.p.to_numpy()) if len(out) else []
    return out


def random_log(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = T0 - 60 * HOUR + rng.uniform(0, 60 * HOUR, n)
    pid = rng.zipf(1.5, n) % 40
    burst = rng.choice(40, 3, replace=False)  # three products with 12 extra events in the last 2 h
    ts = np.concatenate([ts, T0 - rng.uniform(0, 2 * HOUR, 36)])
    pid = np.concatenate([pid, np.repeat(burst, 12)])
    return pd.DataFrame({"timestamp": ts, "product_id": [f"p{i}" for i in pid],
                         "interaction_type": rng.choice(INTERACTION_TYPES, len(ts)),
                         "category": [f"c{i % 3}" for i in pid]})


def follow(df: pd.DataFrame, chunks: int = 7) -> RisingIndex:
    """A trending index fed in shuffled chunks (out of order), followed by the rising index."""
    trending = TrendingIndex(INTERACTION_WEIGHTS, {t: 6 * HOUR for t in INTERACTION_TYPES}, 36 * HOUR)
    rising = RisingIndex.following(trending, SET)
    shuffled = df.sample(frac=1.0, random_state=1)
    for part in np.array_split(np.arange(len(shuffled)), chunks):
        c = shuffled.iloc[part]
        trending.add(c.timestamp.tolist(), c.product_id.tolist(), c.interaction_type.tolist(),
                     [[x] for x in c.category])
    return rising


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("now_back, hours, min_events, category", [(0, 2, 3, None), (0, 3, 1, "c1"), (5, 2, 2, None)])
def test_live_tests_equal_the_brute_force_definition(seed: int, now_back: float, hours: float, min_events: int,
                                                     category: str | None) -> None:
    df = random_log(seed)
    rising = follow(df)
    now = T0 - now_back * HOUR
    products, test = rising.test(now, hours * HOUR, category, min_events)
    expected = brute_force(df, now, hours * HOUR, min_events, category)
    got = pd.DataFrame({"n": test.recent, "p": test.p_value, "q": test.q_value, "uptick": test.uptick,
                        "rate": test.rate, "b_events": test.baseline_events}, index=products).sort_index()
    expected = expected.sort_index()
    assert list(got.index) == list(expected.index) and len(got) > 0
    assert (got.n.to_numpy() == expected.n.to_numpy()).all()
    assert (got.b_events.to_numpy() == expected.b_events.to_numpy()).all()
    for col in ("p", "q", "uptick", "rate"):
        np.testing.assert_allclose(got[col].to_numpy(), expected[col].to_numpy(), rtol=1e-9, atol=1e-300)


def step_seed(now: float) -> int:
    return int(now) % 1000


def test_a_clock_walking_forward_with_late_events_stays_equal_to_the_brute_force_definition() -> None:
    """The recent window's sums are carried from call to call (rising_window.py): every call of a live
    sequence — the clock creeping forward, events arriving after and inside the window, a jump of more than a
    window, a timeframe change, going back — equals the definition computed from scratch."""
    df = random_log(3)
    held, later = df[df.timestamp <= T0 - 10 * HOUR], df[df.timestamp > T0 - 10 * HOUR].sort_values("timestamp")
    source = TrendingIndex(INTERACTION_WEIGHTS, {t: 6 * HOUR for t in INTERACTION_TYPES}, 36 * HOUR)
    rising = RisingIndex.following(source, SET)
    source.add(held.timestamp.tolist(), held.product_id.tolist(), held.interaction_type.tolist(),
               [[x] for x in held.category])
    now, seen = T0 - 10 * HOUR, held
    walk = [(0.05, 2, 0), (0.3, 2, 0), (0.01, 2, 3), (0.2, 2, 0), (2.5, 2, 0), (0.2, 3, 0), (0.2, 3, 0),
            (-0.5, 3, 0), (0.4, 2, 0), (0.1, 2, 2), (0.1, 2, 0)]
    for step, hours, n_late in walk:
        now += step * HOUR
        new = later[(later.timestamp > seen.timestamp.max()) & (later.timestamp <= now)]
        late = seen.sample(n_late, random_state=step_seed(now)).assign(timestamp=now - 0.5 * HOUR)  # in the window
        for part in (new, late):
            source.add(part.timestamp.tolist(), part.product_id.tolist(), part.interaction_type.tolist(),
                       [[x] for x in part.category])
        seen = pd.concat([seen, new, late])
        products, test = rising.test(now, hours * HOUR, None, 1)
        expected = brute_force(seen, now, hours * HOUR, 1).sort_index()
        got = pd.DataFrame({"n": test.recent, "p": test.p_value, "uptick": test.uptick}, index=products).sort_index()
        assert list(got.index) == list(expected.index) and (got.n.to_numpy() == expected.n.to_numpy()).all()
        for col in ("p", "uptick"):
            np.testing.assert_allclose(got[col].to_numpy(), expected[col].to_numpy(), rtol=1e-9, atol=1e-300)
    assert source.n_events == len(seen)


def test_the_injected_bursts_are_the_risers_and_rows_explain_them(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fincommerce")
    df = random_log(3)
    rows = rising_top(follow(df), T0, 2, 10, None, 3, debug=True)
    burst = set(df.product_id.iloc[-36:])
    assert len(rows) >= 2 and rows[0]["product_id"] in burst and len(burst & {r["product_id"] for r in rows}) >= 2
    assert all(r["q_value"] <= 0.05 and r["uptick_ratio"] > 1 for r in rows)
    assert [r["p_value"] for r in rows] == sorted(r["p_value"] for r in rows)
    assert "expected from its baseline" in caplog.text and "BH q=" in caplog.text


def test_a_steady_product_is_not_rising() -> None:
    t = T0 - np.arange(0, 48 * HOUR, 600.0)  # one event every 10 minutes for 48 h
    df = pd.DataFrame({"timestamp": t, "product_id": "flat", "interaction_type": "view", "category": "c"})
    assert rising_top(follow(df), T0, 2, 10, None, 3) == []


@pytest.mark.parametrize("kwargs, field", [
    ({"min_events": 0}, "min_events"),
    ({"timeframe_hours": 0.5}, "timeframe_hours"),
    ({"timeframe_hours": 48}, "timeframe_hours"),
    ({"category": "nothing-here"}, "category"),
    ({"top_k": 0}, "top_k"),
    ({"now": T0 - 30 * HOUR}, "now"),
])
def test_bad_input_is_one_clear_error(kwargs: dict, field: str) -> None:
    args = {"timeframe_hours": 2, "top_k": 10, "category": None, "min_events": 3, "now": T0, **kwargs}
    with pytest.raises(ValidationError) as info:
        rising_top(follow(random_log(0)), args["now"], args["timeframe_hours"], args["top_k"], args["category"],
                   args["min_events"])
    assert field in str(info.value) and "\n" not in str(info.value)


def test_the_api_and_the_cli_agree(tmp_path: Path, embedder) -> None:
    store = tmp_path / "store"
    df = random_log(4, 600)
    with Workbench(Settings(store_path=store), embedder=embedder) as wb:
        wb.index_products(PRODUCTS, show_progress=False)
        wb.trending.add(df.timestamp.tolist(), df.product_id.tolist(), df.interaction_type.tolist(),
                        [[c] for c in df.category])
        api = wb.get_rising_products(2, 5, now=T0)
        assert api and api == rising_top(wb.popularity.rising_index, T0, 2, 5, None, 2)
    env = {**os.environ, "FINCOMMERCE_STORE_PATH": str(store)}
    env.pop("QDRANT_URL", None)
    out = subprocess.run([sys.executable, "-m", "fincommerce.cli", "rising", "--min-events", "0"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "min_events" in out.stderr
