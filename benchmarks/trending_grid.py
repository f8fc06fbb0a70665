"""Trending at every half-life × window of 05's default grid: 1M events over 72 h, one add and one top-10 per call.

    python benchmarks/trending_grid.py            (also the `trending` group of run_benchmarks.py)

Short half-lives against long windows used to rebuild the sums on every event (one add 64 ms at 1 h / 24 h);
bucketed accumulators keep each add O(1). Only the public TrendingIndex API is used, so the same script
measures an older checkout (`PYTHONPATH=that/checkout python benchmarks/trending_grid.py`).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from timing import p50  # noqa: E402  (beside this script)

from fincommerce import Settings, Workbench
from fincommerce.catalog import generate_catalog
from fincommerce.config import HOUR
from fincommerce.embedding import Embedder
from fincommerce.schema import INTERACTION_TYPES, INTERACTION_WEIGHTS
from fincommerce.trending import TrendingIndex, top_from_events
from fincommerce.trending.rising import RisingIndex, RisingSettings, rising_top
from fincommerce.trending.rising_stats import decayed_exposure, rising_test

HALF_LIVES = (1, 3, 6, 12, 24, 72)  # hours: notebook 05's default grid
WINDOWS = (24, 72, 168, 336, 720)  # hours: 05's grid and the November log's best window
T_END = 1_790_000_000.0

Report = Callable[..., None]


def _events(n: int, n_products: int, seed: int) -> tuple[np.ndarray, list[str], list[str]]:
    """n events over the 72 h before T_END, Zipf-skewed products, a view-heavy funnel."""
    rng = np.random.default_rng(seed)
    ts = np.sort(T_END - 72 * HOUR + rng.uniform(0, 72 * HOUR, n))
    prods = [f"p{i}" for i in rng.zipf(1.3, n) % n_products]
    types = [INTERACTION_TYPES[i] for i in rng.choice(4, size=n, p=[0.7, 0.2, 0.07, 0.03])]
    return ts, prods, types


def _logp50(wb: Workbench, product: dict, clock: float) -> float:
    def log() -> None:
        nonlocal clock
        clock += 0.5
        wb.log_interaction("u1", product, "click", "same query", timestamp=clock)

    log()
    return p50(log, 200)


def bench_log_by_half_life(report: Report, emb: Embedder, tmp: Path, n: int = 1_000_000) -> None:
    """log_interaction (a cached text) with 1M events retained by the trending index, at 1 h and 6 h half-lives."""
    ts, prods, types = _events(n, 10_000, 7)
    product = generate_catalog(1, seed=1).to_dict("records")[0]
    for half_life in (1, 6):
        with Workbench(Settings(store_path=tmp / f"log-{half_life}h", half_life_hours=half_life),
                       embedder=emb) as wb:
            for s in range(0, n, 50_000):
                wb.trending.add(ts[s:s + 50_000], prods[s:s + 50_000], types[s:s + 50_000])
            took = _logp50(wb, product, float(ts[-1]))
        report("trend-grid", f"log_interaction p50, cached text, 1M events retained, {half_life} h half-life",
               took * 1000, "ms", "<= 1 ms", took <= 0.001)


def _one_setting(half_life: float, window: float, ts: np.ndarray, prods: list[str],
                 types: list[str]) -> tuple[float, float, float]:
    """(add p50, add + live top-10 p50, largest relative error against brute force) in seconds."""
    idx = TrendingIndex(INTERACTION_WEIGHTS, {t: half_life * HOUR for t in INTERACTION_TYPES}, window * HOUR)
    for s in range(0, len(ts), 50_000):
        idx.add(ts[s:s + 50_000], prods[s:s + 50_000], types[s:s + 50_000])
    extra: list[float] = []

    def add() -> None:
        extra.append(float(ts[-1]) + len(extra) + 1.0)  # one new event a second
        idx.add([extra[-1]], [prods[len(extra)]], ["click"])

    def add_and_top() -> None:
        add()
        idx.top(extra[-1], window * HOUR, 10)

    add_s, top_s = p50(add, 100), p50(add_and_top, 100)
    got = idx.top(extra[-1], window * HOUR, 10)
    want = top_from_events(np.concatenate([ts, extra]), prods + prods[1:len(extra) + 1],
                           types + ["click"] * len(extra), None, extra[-1], window * HOUR, idx.weights,
                           idx.half_lives, 10)
    if [r["product_id"] for r in got] != [r["product_id"] for r in want]:
        return add_s, top_s, float("inf")
    return add_s, top_s, max(abs(a["raw_score"] - b["raw_score"]) / b["raw_score"] for a, b in zip(got, want))


def bench_trending_grid(report: Report, n: int = 1_000_000, n_products: int = 10_000, seed: int = 42) -> None:
    ts, prods, types = _events(n, n_products, seed)
    worst = np.zeros(3)
    for half_life in HALF_LIVES:
        for window in WINDOWS:
            add_s, top_s, error = _one_setting(half_life, window, ts, prods, types)
            report("trend-grid", f"{half_life:g} h / {window:g} h: add p50 | add+top-10 p50 | rel. error",
                   add_s * 1000, "ms", f"{top_s * 1000:.3f} ms  {error:.1e}",
                   add_s <= 0.001 and top_s <= 0.001 and error <= 1e-9)
            worst = np.maximum(worst, [add_s, top_s, error])
    report("trend-grid", "worst index add p50 over the grid", worst[0] * 1000, "ms", "<= 1 ms", worst[0] <= 0.001)
    report("trend-grid", "worst add + live top-10 p50 over the grid", worst[1] * 1000, "ms", "<= 1 ms",
           worst[1] <= 0.001)
    report("trend-grid", "worst relative error vs brute force", worst[2], "", "<= 1e-9", worst[2] <= 1e-9)


def _rising_reference(rising: RisingIndex, ts: np.ndarray, prods: np.ndarray, now: float, timeframe: float,
                      min_events: int) -> tuple[np.ndarray, np.ndarray]:
    """(products tested, p-values) straight from the events: a rescan the index exists to avoid."""
    s = rising.settings
    short, long, base = s.short_half_life_hours * HOUR, s.long_half_life_hours * HOUR, s.baseline_hours * HOUR
    inside = (ts >= now - base) & (ts <= now)
    t, p = ts[inside], prods[inside]
    recent = t >= now - timeframe
    n_p = int(p.max()) + 1
    n = np.bincount(p[recent], minlength=n_p)
    w = np.bincount(p[recent], weights=np.exp2(-(now - t[recent]) / short), minlength=n_p)
    old = np.bincount(p[~recent], weights=np.exp2(-(now - timeframe - t[~recent]) / long), minlength=n_p)
    events = np.bincount(p[~recent], minlength=n_p)
    exposure = decayed_exposure(now - timeframe - max(now - base, float(ts.min())), long)
    seen = np.bincount(p, minlength=n_p) > 0
    prior = old[seen].sum() / (seen.sum() * exposure)
    tested = np.flatnonzero(seen & (n >= min_events))
    others = old[seen].sum() - old[tested]
    traffic = np.where(others > 0, np.maximum(1.0, (n[seen].sum() - n[tested]) / timeframe / (others / exposure)), 1.0)
    test = rising_test(n[tested], w[tested], old[tested], events[tested], exposure, prior, s.prior_hours * HOUR,
                       timeframe, short, traffic if s.traffic_adjusted else 1.0)
    return tested, test.p_value


def bench_rising(report: Report, n: int = 1_000_000, n_products: int = 10_000, seed: int = 42) -> None:
    """get_rising_products' live path at 1M events over 72 h (trending's 24 h window follows them; rising's
    baseline is that window): one new event a second, then the 2 h rising list, against a direct rescan."""
    ts, prods, types = _events(n, n_products, seed)
    idx = TrendingIndex(INTERACTION_WEIGHTS, {t: 6 * HOUR for t in INTERACTION_TYPES}, 24 * HOUR)
    rising = RisingIndex.following(idx, RisingSettings(baseline_hours=24))
    for s in range(0, n, 50_000):
        idx.add(ts[s:s + 50_000], prods[s:s + 50_000], types[s:s + 50_000])
    clock = [float(ts[-1])]

    def live() -> None:
        clock[0] += 1.0
        idx.add([clock[0]], [prods[int(clock[0]) % n]], ["click"])
        rising_top(rising, clock[0], 2, 10, None, 3)

    took = p50(live, 200, 5)

    def trending_live() -> None:  # the same clock step with trending's live top-10: a load-independent yardstick
        clock[0] += 1.0
        idx.add([clock[0]], [prods[int(clock[0]) % n]], ["click"])
        idx.top(clock[0], 24 * HOUR, 10)

    yardstick = p50(trending_live, 200, 5)
    tested, p_value = rising.test(clock[0], 2 * HOUR, None, 3)
    all_ts = np.concatenate([ts, np.arange(ts[-1] + 1.0, clock[0] + 0.5, 1.0)])
    all_p = prods + [prods[int(x) % n] for x in all_ts[n:]]
    codes = np.array([int(x[1:]) for x in all_p])
    ref_products, ref_p = _rising_reference(rising, all_ts, codes, clock[0], 2 * HOUR, 3)
    order = np.argsort([int(x[1:]) for x in tested])
    same = [f"p{i}" for i in ref_products] == [tested[i] for i in order]
    error = float(np.max(np.abs(p_value.p_value[order] - ref_p) / np.maximum(ref_p, 1e-300))) if same else np.inf
    report("trend-grid", f"rising live p50, 1M events/72 h, {len(tested):,} products tested", took * 1000, "ms",
           "<= 2 ms", took <= 0.002)
    report("trend-grid", "rising live p50 / trending live top-10 p50, same run", took / yardstick, "x")
    report("trend-grid", "rising p-values: relative error vs a direct rescan", error, "", "<= 1e-9", error <= 1e-9)


if __name__ == "__main__":
    def _print(area: str, metric: str, value: float, unit: str, target: str = "", ok: bool | None = None) -> None:
        flag = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{area:10s} {metric:58s} {value:12.4g} {unit:8s} {target:18s} {flag}", flush=True)

    import tempfile

    bench_rising(_print)
    bench_trending_grid(_print)
    with tempfile.TemporaryDirectory() as d:
        bench_log_by_half_life(_print, Embedder(), Path(d))
