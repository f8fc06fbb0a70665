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
    means = table.loc[["ARP", "APLT"]]  # means of per-list values: the CI brackets them
    assert ((means.ci_low <= means.value) & (means.value <= means.ci_high)).all()
    assert (table.ci_low <= table.ci_high).all()
    # coverage of a resample can only shrink: its CI sits at or below the full log's value (stated, not hidden)
    assert table.loc["coverage", "ci_high"] <= table.loc["coverage", "value"]
