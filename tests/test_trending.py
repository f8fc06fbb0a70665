"""Trending exactness against a brute-force pandas computation, on known-answer and random data."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from conftest import HOUR, T0
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from fincommerce.schema import INTERACTION_TYPES, INTERACTION_WEIGHTS
from fincommerce.trending import TrendingIndex
from fincommerce.workbench import Workbench

H = 6 * HOUR
W = 24 * HOUR


def brute_force(df: pd.DataFrame, now: float, timeframe: float = W, half_lives: dict | None = None,
                category: str | None = None) -> pd.DataFrame:
    """The definition, written the obvious way."""
    half_lives = half_lives or {t: H for t in INTERACTION_TYPES}
    d = df[(df.timestamp >= now - timeframe) & (df.timestamp <= now)].copy()
    if category is not None:
        d = d[d.category == category]
    if d.empty:
        return pd.DataFrame(columns=["product_id", "raw", "n", "last", "score"])
    d["c"] = [
        INTERACTION_WEIGHTS[t] * 0.5 ** ((now - ts) / half_lives[t]) for t, ts in zip(d.interaction_type, d.timestamp)
    ]
    g = d.groupby("product_id").agg(raw=("c", "sum"), n=("c", "size"), last=("timestamp", "max")).reset_index()
    g["score"] = g.raw / g.raw.max()
    return g.sort_values(["score", "product_id"], ascending=[False, True]).reset_index(drop=True)


def index_of(df: pd.DataFrame, window: float = W, half_lives: dict | None = None) -> TrendingIndex:
    idx = TrendingIndex(INTERACTION_WEIGHTS, half_lives or {t: H for t in INTERACTION_TYPES}, window)
    idx.add(df.timestamp.tolist(), df.product_id.tolist(), df.interaction_type.tolist(),
            [[c] for c in df.category])
    return idx


def assert_same(rows: list[dict], expected: pd.DataFrame, top_k: int | None = None) -> None:
    exp = expected if top_k is None else expected.head(top_k)
    assert [r["product_id"] for r in rows] == exp.product_id.tolist()
    for r, (_, e) in zip(rows, exp.iterrows()):
        assert r["raw_score"] == pytest.approx(e.raw, rel=1e-9, abs=1e-300)
        assert r["weighted_popularity_score"] == pytest.approx(e.score, rel=1e-9)
        assert r["total_interactions"] == e.n and r["last_interaction_timestamp"] == e["last"]


KNOWN = pd.DataFrame([
    # product, type, hours before T0, category
    ("a", "purchase", 0.0, "Laptops"),
    ("a", "view", 6.0, "Laptops"),
    ("b", "add_to_cart", 0.0, "Phones"),
    ("b", "purchase", 6.0, "Phones"),
    ("c", "click", 12.0, "Phones"),
    ("d", "purchase", 24.0, "Laptops"),   # exactly on the window start: included
    ("e", "purchase", 24.001, "Laptops"),  # just outside: excluded
    ("f", "view", -0.5, "Laptops"),        # after `now`: excluded
], columns=["product_id", "interaction_type", "hours", "category"]).assign(timestamp=lambda d: T0 - d.hours * HOUR)


def test_known_answer() -> None:
    rows = index_of(KNOWN).top(T0, W, None)
    # a: 1 + 0.1·½ = 1.05; b: 0.6 + 1·½ = 1.1; c: 0.3·¼ = 0.075; d: 1·(1/16) = 0.0625
    assert [r["product_id"] for r in rows] == ["b", "a", "c", "d"]
    assert [r["raw_score"] for r in rows] == pytest.approx([1.1, 1.05, 0.075, 0.0625], rel=1e-12)
    assert rows[0]["weighted_popularity_score"] == 1.0
    assert rows[1]["weighted_popularity_score"] == pytest.approx(1.05 / 1.1, rel=1e-12)
    assert rows[0]["total_interactions"] == 2 and rows[0]["last_interaction_timestamp"] == T0
    assert_same(rows, brute_force(KNOWN, T0))


def test_weight_is_exactly_half_after_one_half_life() -> None:
    df = pd.DataFrame({"product_id": ["p"], "interaction_type": ["purchase"], "timestamp": [T0 - H], "category": ["x"]})
    assert index_of(df).top(T0, W, 1)[0]["raw_score"] == 0.5


def test_category_and_ties_by_product_id() -> None:
    rows = index_of(KNOWN).top(T0, W, None, category="laptops")
    assert [r["product_id"] for r in rows] == ["a", "d"] and rows[0]["weighted_popularity_score"] == 1.0
    same = pd.DataFrame({"product_id": ["z", "y", "x"], "interaction_type": ["view"] * 3, "timestamp": [T0] * 3,
                         "category": ["c"] * 3})
    assert [r["product_id"] for r in index_of(same).top(T0, W, 2)] == ["x", "y"]


def test_per_type_half_lives() -> None:
    hl = {"view": 1 * HOUR, "click": H, "add_to_cart": H, "purchase": 48 * HOUR}
    rows = index_of(KNOWN, half_lives=hl).top(T0, W, None)
    assert_same(rows, brute_force(KNOWN, T0, half_lives=hl))


events = st.lists(st.tuples(st.sampled_from("pqrstu"), st.sampled_from(INTERACTION_TYPES),
                            st.floats(0, 72 * HOUR)), min_size=1, max_size=60)


def frame(evs: list) -> pd.DataFrame:
    df = pd.DataFrame(evs, columns=["product_id", "interaction_type", "timestamp"])
    return df.assign(timestamp=df.timestamp + T0, category=["A" if p in "pqr" else "B" for p in df.product_id])


@hsettings(max_examples=150, deadline=None)
@given(
    events, st.floats(0, 80 * HOUR), st.sampled_from([1.0, 5.0, 24.0, 48.0]), st.none() | st.sampled_from(["A", "B"])
)
def test_random_streams_match_brute_force(evs, now_offset, tf_hours, category) -> None:
    df = frame(evs)
    now = T0 + now_offset
    idx = index_of(df, window=W)
    expected = brute_force(df, now, tf_hours * HOUR, category=category)
    if idx.covers(now - tf_hours * HOUR):
        assert_same(idx.top(now, tf_hours * HOUR, None, category), expected)
    else:
        from fincommerce.trending import top_from_events
        rows = top_from_events(df.timestamp.to_numpy(), df.product_id.tolist(), df.interaction_type.tolist(),
                               [[c] for c in df.category], now, tf_hours * HOUR, idx.weights, idx.half_lives,
                               None, category)
        assert_same(rows, expected)


@hsettings(max_examples=60, deadline=None)
@given(events, st.floats(-1e6, 1e6))
def test_scores_unchanged_when_everything_shifts_together(evs, shift) -> None:
    df = frame(evs)
    now = float(df.timestamp.max())
    a = index_of(df).top(now, W, None)
    b = index_of(df.assign(timestamp=df.timestamp + shift)).top(now + shift, W, None)
    assert [r["product_id"] for r in a] == [r["product_id"] for r in b]
    assert [r["weighted_popularity_score"] for r in a] == pytest.approx(
        [r["weighted_popularity_score"] for r in b], rel=1e-9
    )


def test_long_stream_with_expiry_and_rebase_stays_exact() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    df = pd.DataFrame({
        "product_id": [f"p{i}" for i in rng.integers(0, 300, n)],
        "interaction_type": rng.choice(INTERACTION_TYPES, n),
        "timestamp": T0 + np.sort(rng.uniform(0, 30 * 24 * HOUR, n)) + rng.normal(0, 600, n),  # a little out of order
        "category": "x",
    })
    idx = TrendingIndex(INTERACTION_WEIGHTS, {t: H for t in INTERACTION_TYPES}, W)
    for chunk in (df.iloc[i:i + 400] for i in range(0, n, 400)):
        idx.add(chunk.timestamp.tolist(), chunk.product_id.tolist(), chunk.interaction_type.tolist())
    now = float(df.timestamp.max())
    assert_same(idx.top(now, W, None), brute_force(df, now))
    assert_same(idx.top(now, 3 * HOUR, 10), brute_force(df, now, 3 * HOUR), top_k=10)
    assert_same(idx.top(now + 5 * HOUR, W, 10), brute_force(df, now + 5 * HOUR), top_k=10)
    assert idx.n_events < n / 5  # old events were expired
    assert idx.memory_bytes() / idx.n_events < 100


def test_empty_returns_list_and_warns(wb: Workbench, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert wb.get_top_interacted_products() == []
    assert "No interactions found in timeframe" in caplog.text


def test_a_live_window_slides_with_interleaved_writes_and_reads_and_stays_exact() -> None:
    """History longer than the window: reads at a moving `now` slide the accumulators (O(products)),
    late arrivals, look-backs and other timeframes still give the exact answer."""
    rng = np.random.default_rng(11)
    n = 12_000
    df = pd.DataFrame({
        "product_id": [f"p{i}" for i in rng.integers(0, 150, n)],
        "interaction_type": rng.choice(INTERACTION_TYPES, n),
        "timestamp": T0 + np.sort(rng.uniform(0, 72 * HOUR, n)) + rng.normal(0, 900, n),
    })
    df["category"] = ["y" if int(p[1:]) % 3 == 0 else "x" for p in df.product_id]  # a product keeps its category
    idx = TrendingIndex(INTERACTION_WEIGHTS, {t: H for t in INTERACTION_TYPES}, W)
    for start in range(0, n, 300):
        chunk = df.iloc[start:start + 300]
        idx.add(chunk.timestamp.tolist(), chunk.product_id.tolist(), chunk.interaction_type.tolist(),
                [[c] for c in chunk.category])
        seen = df.iloc[:start + 300]
        now = float(seen.timestamp.max()) + rng.uniform(0, 1800)
        assert_same(idx.top(now, W, 10), brute_force(seen, now), top_k=10)
        if start % 1500 == 0:
            assert_same(idx.top(now, 2 * HOUR, 5), brute_force(seen, now, 2 * HOUR), top_k=5)
            back = now - 5 * HOUR  # a look-back inside what the index retains
            if idx.covers(back - W):
                assert_same(idx.top(back, W, 5), brute_force(seen, back), top_k=5)
            assert_same(idx.top(now, W, 5, "y"), brute_force(seen, now, category="y"), top_k=5)
    assert idx.acc_start > idx.retain_from  # the accumulators slid with the live window


GRID_HALF_LIVES = [1, 3, 6, 12, 24, 72]  # 05's default grid, and its longest windows
GRID_WINDOWS = [24, 72, 168, 336, 720]


@hsettings(max_examples=15, deadline=None)
@given(st.sampled_from(GRID_HALF_LIVES), st.sampled_from(GRID_WINDOWS), st.integers(0, 2**32 - 1))
def test_every_half_life_and_window_of_the_backtest_grid_stays_exact(half_life, window, seed) -> None:
    """Streams longer than 16 half-lives: bucketed accumulators stay exact to 1e-9 at a moving `now`."""
    rng = np.random.default_rng(seed)
    n = 1500
    df = pd.DataFrame({"product_id": [f"p{i}" for i in rng.integers(0, 40, n)],
                       "interaction_type": rng.choice(INTERACTION_TYPES, n),
                       "timestamp": T0 + np.sort(rng.uniform(0, 30 * 24 * HOUR, n)) + rng.normal(0, 900, n),
                       "category": "x"})
    hl = {t: half_life * HOUR for t in INTERACTION_TYPES}
    idx = TrendingIndex(INTERACTION_WEIGHTS, hl, window * HOUR)
    for start in range(0, n, 500):
        chunk = df.iloc[start:start + 500]
        idx.add(chunk.timestamp.tolist(), chunk.product_id.tolist(), chunk.interaction_type.tolist())
        seen = df.iloc[:start + 500]
        now = float(seen.timestamp.max()) + rng.uniform(0, 2 * HOUR)
        assert_same(idx.top(now, window * HOUR, 10), brute_force(seen, now, window * HOUR, hl), top_k=10)


def test_one_more_event_costs_the_same_whatever_the_half_life(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's cliff: with 2 × window / half-life > 16 every add rebuilt the sums from all retained events."""
    import fincommerce.trending.index as index_module

    rng = np.random.default_rng(5)
    n = 5000
    ts = T0 + np.sort(rng.uniform(0, 72 * HOUR, n))
    prods = [f"p{i}" for i in rng.integers(0, 100, n)]
    real = index_module.forward_weight
    for half_life in (1 * HOUR, 6 * HOUR):
        idx = TrendingIndex(INTERACTION_WEIGHTS, {t: half_life for t in INTERACTION_TYPES}, W)
        idx.add(ts, prods, ["view"] * n)
        computed: list[int] = []

        def counting(t: np.ndarray, *args: object, seen: list[int] = computed) -> np.ndarray:
            seen.append(np.size(t))
            return real(t, *args)

        monkeypatch.setattr(index_module, "forward_weight", counting)
        for i in range(20):
            idx.add([ts[-1] + i + 1.0], ["p1"], ["click"])
        monkeypatch.setattr(index_module, "forward_weight", real)
        assert sum(computed) <= 20, (half_life, sum(computed))
