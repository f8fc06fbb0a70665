"""Popularity-bias metrics against values computed by hand (see the numbers in each comment)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fincommerce.offline.bias import bias_metrics, bias_table, gini, long_tail

LISTS = np.array([[0, 1, 2], [0, 3, -1]])           # catalogue of 5 items; item 4 is never shown
POPULARITY = np.array([[10, 5, 1], [12, 0, 0]])       # each item's count as of its own list's cut
IN_TAIL = np.array([[False, False, True], [False, True, False]])


def test_each_metric_matches_the_hand_computed_value() -> None:
    m = bias_metrics(LISTS, POPULARITY, IN_TAIL, n_catalogue=5)
    assert m["ARP"] == pytest.approx((16 / 3 + 12 / 2) / 2)           # 5.6667
    assert m["APLT"] == pytest.approx((1 / 3 + 1 / 2) / 2)            # 0.4167
    # exposure (2, 1, 1, 1, 0) sorted (0, 1, 1, 1, 2): Σ(2i−n−1)x = −2 + 0 + 2 + 8 = 8; 8 / (5·5)
    assert m["gini"] == pytest.approx(0.32)
    assert m["coverage"] == pytest.approx(4 / 5)
    assert m["entropy"] == pytest.approx(-(0.4 * math.log(0.4) + 3 * 0.2 * math.log(0.2)))  # 1.3322 nats


def test_ndcg_by_target_popularity_tercile() -> None:
    lists = np.zeros((6, 1), dtype=int)
    m = bias_metrics(lists, np.ones((6, 1)), np.zeros((6, 1), bool), 3,
                     ndcg=np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
                     target_popularity=np.array([5, 1, 9, 3, 7, 2]))
    # low: popularity 1, 2 (ndcg 0.2, 0.6); mid: 3, 5 (0.4, 0.1); high: 7, 9 (0.5, 0.3)
    assert (m["ndcg low pop"], m["ndcg mid pop"], m["ndcg high pop"]) == pytest.approx((0.4, 0.25, 0.4))


def test_the_head_is_the_fewest_items_holding_80_percent() -> None:
    assert long_tail(np.array([50, 30, 10, 5, 5, 0])).tolist() == [False, False, True, True, True, True]
    assert long_tail(np.array([5, 50, 20, 10, 15])).tolist() == [True, False, False, True, False]  # 50+20+15 ≥ 80 %
    assert long_tail(np.zeros(3)).all()  # nothing seen yet: everything is tail


def test_gini_extremes() -> None:
    assert gini(np.full(10, 3)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 9])) == pytest.approx(0.75)  # one of n items: (n − 1) / n


def test_the_table_brackets_each_value() -> None:
    rng = np.random.default_rng(0)
    lists = rng.integers(0, 50, (200, 10))
    pop = rng.integers(0, 100, (200, 10)).astype(float)
    table = bias_table(lists, pop, pop < 20, 50, ndcg=rng.random(200), target_popularity=rng.random(200),
                       n_boot=200, seed=1)
    assert list(table.index[:5]) == ["ARP", "APLT", "gini", "coverage", "entropy"]
    means = table.loc[["ARP", "APLT", "ndcg low pop", "ndcg mid pop", "ndcg high pop"]]
    assert ((means.ci_low <= means.value) & (means.value <= means.ci_high)).all()
    # a resample always shows fewer distinct items: no interval rather than one that misses its own value
    assert table.loc[["gini", "coverage", "entropy"], ["ci_low", "ci_high"]].isna().all().all()


def test_the_backtest_records_what_each_predictor_showed_with_popularity_as_of_each_cut() -> None:
    import pandas as pd

    from fincommerce.offline import backtest

    # product "a" is bought early and often, "b" only late: at the first cut "b" has no popularity yet
    t = [0, 60, 120, 180, 3600, 3660, 7200, 7260, 9000]
    pid = ["a", "a", "a", "a", "b", "b", "a", "b", "c"]
    events = pd.DataFrame({"timestamp": np.array(t, float), "product_id": pid, "interaction_type": "purchase"})
    seed = backtest.seed_predictor()
    result = backtest.run_backtest(events, [seed], 0.5, 30, show_progress=False)
    ex = result.exposure
    assert ex.lists.shape == (len(result.cuts), 1, 10) and ex.n_catalogue == 3
    first = ex.lists[0, 0]
    assert first[0] == 0 and (first[1:] == -1).all()  # only "a" had been seen at the first cut (t = 1800)
    assert ex.popularity[0, 0, 0] == 4 and not ex.in_tail[0, 0, 0]
    table = ex.table([seed.name], n_boot=50)
    assert table.loc[0, "coverage"] == pytest.approx(len({i for i in ex.lists.ravel() if i >= 0}) / 3)


def test_gini_of_the_shown_items_alone_equals_gini_over_the_catalogue() -> None:
    exposure = np.array([0, 3, 0, 1, 7, 0, 2])
    assert gini(exposure[exposure > 0], n=len(exposure)) == pytest.approx(gini(exposure))
