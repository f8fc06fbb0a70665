"""Notebook 06's measurement: how often is a "rising" list right, for our detector and two baselines.

Each detector is asked every `step_minutes` for its list. A burst counts as found when its product is listed
within `within_hours` of the burst's start; the delay is the first listing during the burst. False alarms are
the (product, day) pairs listed on the log without injections, per 1,000 product-days; the null is the share
of products ever listed once each product's timestamps are shuffled within its lifetime. The live detector is
run through `RisingIndex` itself, fed in time order, so the figures are those of the code the API serves.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.config import DAY, HOUR
from fincommerce.offline.bursts import Log, algolia_flags, amazon_flags, inject_bursts, shuffle_within_lifetime
from fincommerce.offline.evaluation import bootstrap_ci
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.trending import TrendingIndex
from fincommerce.trending.rising import RisingIndex, RisingSettings
from fincommerce.trending.rising_stats import rising_rows

log = logging.getLogger(__name__)
Detector = Callable[[Log, np.ndarray], list[np.ndarray]]
FLOOR = 6  # the fewest extra events a burst has


@dataclass(frozen=True)
class BacktestSettings:
    rising: RisingSettings
    timeframe_hours: float = 2.0
    min_events: int = 2
    top_k: int = 10
    step_minutes: float = 10.0
    within_hours: float = 2.0
    burst_hours: float = 6.0
    warmup_hours: float = 48.0


def rising_detector(s: BacktestSettings) -> Detector:
    """Our detector: the live index fed in time order, asked at each grid time."""
    def flags(lg: Log, grid: np.ndarray) -> list[np.ndarray]:
        ones = {t: 1.0 for t in INTERACTION_TYPES}
        half = {t: s.rising.short_half_life_hours * HOUR for t in INTERACTION_TYPES}
        trending = TrendingIndex(ones, half, s.rising.baseline_hours * HOUR)
        rising = RisingIndex.following(trending, s.rising)
        code = {pid: i for i, pid in enumerate(lg.product_ids)}
        out, done = [], 0
        for g in grid:
            upto = int(np.searchsorted(lg.t, g, side="right"))
            if upto > done:
                trending.add(lg.t[done:upto], [lg.product_ids[i] for i in lg.p[done:upto]], ["view"] * (upto - done))
                done = upto
            products, test = rising.test(float(g), s.timeframe_hours * HOUR, None, s.min_events)
            rows = rising_rows(products, test, s.rising.alpha, s.top_k)
            out.append(np.array([code[r["product_id"]] for r in rows], dtype=np.int64))
        return out
    return flags


def baseline_detector(kind: str) -> Detector:
    pick = amazon_flags if kind == "amazon" else algolia_flags
    return lambda lg, grid: [pick(lg, float(g)) for g in grid]


def grid_of(lg: Log, s: BacktestSettings) -> np.ndarray:
    start = lg.t[0] + s.warmup_hours * HOUR
    if start >= lg.t[-1] - s.burst_hours * HOUR:
        raise ValueError(f"the log spans {(lg.t[-1] - lg.t[0]) / HOUR:.1f} h: too short for a {s.warmup_hours:g} h "
                         f"warm-up and a {s.burst_hours:g} h burst")
    return np.arange(start, lg.t[-1] + 1e-9, s.step_minutes * 60.0)


def burst_outcomes(flags: list[np.ndarray], grid: np.ndarray, bursts: pd.DataFrame,
                   s: BacktestSettings) -> pd.DataFrame:
    """Per burst: found within `within_hours`, and the delay to its first listing during the burst (NaN if none)."""
    delay = np.full(len(bursts), np.nan)
    for i, (product, start) in enumerate(zip(bursts["product"], bursts["start"])):
        lo, hi = np.searchsorted(grid, [start, start + s.burst_hours * HOUR], side="left")
        hit = next((grid[j] for j in range(lo, hi) if product in flags[j]), None)
        if hit is not None:
            delay[i] = (hit - start) / HOUR
    return bursts.assign(delay_hours=delay, found=delay <= s.within_hours)


def flagged_days(flags: list[np.ndarray], grid: np.ndarray, n_products: int) -> np.ndarray:
    """Per product, the number of distinct days (since the grid's start) on which it was listed."""
    day = ((grid - grid[0]) // DAY).astype(np.int64)
    pairs = {(int(p), int(d)) for f, d in zip(flags, day) for p in f}
    return np.bincount(np.array([p for p, _ in pairs], dtype=np.int64), minlength=n_products)


def _median_delay(delays: np.ndarray) -> float:
    found = delays[~np.isnan(delays)]
    return float(np.median(found)) if len(found) else float("nan")


def _ci(values: np.ndarray, stat: Callable[[np.ndarray], float], n_boot: int, seed: int) -> tuple[float, float]:
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = np.array([stat(values[rng.integers(0, len(values), len(values))]) for _ in range(n_boot)])
    draws = draws[~np.isnan(draws)]
    return (float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))) if len(draws) else (np.nan, np.nan)


def run(events: pd.DataFrame, s: BacktestSettings, multipliers: Sequence[float], n_bursts: int, seed: int,
        n_boot: int, name: str = "") -> tuple[pd.DataFrame, dict]:
    """The table (detector × burst size, with CIs) and the facts behind it for one log."""
    clean = Log.from_events(events)
    grid = grid_of(clean, s)
    days = (grid[-1] - grid[0]) / DAY
    detectors = {"rising (ours)": rising_detector(s), "amazon-style 3 h increase": baseline_detector("amazon"),
                 "algolia-style day / 15-day mean": baseline_detector("algolia")}
    logs = {"clean": clean, "null": shuffle_within_lifetime(clean, seed)}
    bursts = {}
    for m in multipliers:
        logs[f"{m:g}x"], bursts[f"{m:g}x"] = inject_bursts(clean, m, n_bursts, seed, s.warmup_hours * HOUR,
                                                          s.burst_hours * HOUR, FLOOR)
    rows, facts = [], {"days": days, "n_products": clean.n_products, "n_events": len(clean.t), "grid_points": len(grid),
                       "at_floor": {k: float((b["extra"] <= FLOOR).mean()) for k, b in bursts.items()}}
    with tqdm(total=len(detectors) * len(logs), desc=f"rising backtest {name}".strip()) as bar:
        for det_name, detector in detectors.items():
            flags = {}
            for log_name, lg in logs.items():
                flags[log_name] = detector(lg, grid)
                bar.update()
            per_product = flagged_days(flags["clean"], grid, clean.n_products)
            fa = per_product.sum() / (clean.n_products * days) * 1000
            fa_ci = _ci(per_product, lambda x: x.sum() / (len(x) * days) * 1000, n_boot, seed)
            null = float((flagged_days(flags["null"], grid, clean.n_products) > 0).mean())
            for size, b in bursts.items():
                out = burst_outcomes(flags[size], grid, b, s)
                recall, delays = out["found"].to_numpy(float), out["delay_hours"].to_numpy()
                r_lo, r_hi = bootstrap_ci(recall, n_boot, seed)
                d_lo, d_hi = _ci(delays, _median_delay, n_boot, seed)
                rows.append({"detector": det_name, "burst": size, "recall@2h": recall.mean(), "recall lo": r_lo,
                             "recall hi": r_hi, "median delay h": _median_delay(delays), "delay lo": d_lo,
                             "delay hi": d_hi, "false alarms /1000 product-days": fa, "fa lo": fa_ci[0],
                             "fa hi": fa_ci[1], "null: share of products flagged": null})
    return pd.DataFrame(rows), facts


def floor_recall_bound(within_hours: float, burst_hours: float, k: int = 2) -> float:
    """P(at least k of FLOOR uniform events fall in the first within_hours of burst_hours)."""
    q = within_hours / burst_hours
    return 1.0 - sum(math.comb(FLOOR, j) * q**j * (1 - q) ** (FLOOR - j) for j in range(k))


def findings(table: pd.DataFrame, facts: dict, name: str) -> list[str]:
    """The verdict against the issue's targets, in words (the 3x row of our detector)."""
    ours = table[(table.detector == "rising (ours)") & (table.burst == "3x")]
    if ours.empty:
        return [f"{name}: no 3x bursts were measured."]
    r = ours.iloc[0]
    ok = (r["recall@2h"] >= 0.9, r["median delay h"] <= 1.0, r["false alarms /1000 product-days"] <= 1.0,
          r["null: share of products flagged"] <= 0.05)
    marks = ["met" if x else "MISSED" for x in ok]
    lines = [f"{name} ({facts['n_events']:,} events, {facts['n_products']:,} products, {facts['days']:.1f} days "
             f"evaluated every grid step): 3x bursts recall {r['recall@2h']:.2f} [{r['recall lo']:.2f}, "
             f"{r['recall hi']:.2f}] (target >= 0.9: {marks[0]}), median delay {r['median delay h']:.2f} h "
             f"(<= 1 h: {marks[1]}), {r['false alarms /1000 product-days']:.2f} false alarms per 1,000 "
             f"product-days (<= 1: {marks[2]}), null flags {r['null: share of products flagged']:.1%} of products "
             f"(<= 5 %: {marks[3]})."]
    floor = facts["at_floor"].get("3x", 0.0)
    if floor >= 0.5:
        share, one = floor_recall_bound(2.0, 6.0), floor_recall_bound(2.0, 6.0, k=1)
        lines.append(f"{name}: {floor:.0%} of the 3x bursts are the {FLOOR}-event floor (the products are that "
                     f"sparse), so every size looks alike; a detector that needs 2 events can find at most {share:.2f} "
                     f"of such bursts within 2 h (the chance that 2 of {FLOOR} uniformly random events fall in the "
                     f"first third), and even one that fires on a single event at most {one:.2f}: a recall of 0.9 "
                     "asks for flags on single events, which every sparse product shows by chance.")
    algolia = table[table.detector.str.startswith("algolia")]
    if len(algolia) and (algolia["recall@2h"] == 0).all():
        lines.append(f"{name}: the Algolia-style detector lists nothing a burst could be found in: it needs 16 days "
                     "of history and 250 events per product, which this log's products do not reach.")
    return lines
