"""The trending backtest of `backtest.run_backtest` with the log left in the engine (DuckDB or Spark).

Same cuts, predictors, ranking and scores; the per-product decayed sums come from `logs.cuts` (bucketed
forward decay), and only the products whose bound can reach a cut's top are scored (`best_per_cut`), so only
each cut's top products, their gains and each cut's count of relevant products reach Python. Equal to the
numpy path to ~1e-15 in the sums, identical in the rankings (tests/test_logs_engine.py).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.config import DAY, HOUR, Settings
from fincommerce.logs.cuts import CutGrid, Spans
from fincommerce.logs.tops import best_per_cut
from fincommerce.offline.backtest import (
    K_NDCG,
    K_RECALL,
    BacktestResult,
    LogColumns,
    Predictor,
    cut_points,
    seed_predictor,
)

_TOP = max(K_NDCG, K_RECALL)
DISCOUNT = 1.0 / np.log2(np.arange(2, K_NDCG + 2))
ROWS_PER_CHUNK = 20_000_000  # bucket rows one pass of cuts may read: bounds the engine's group-by, whatever the log


def _spans(p: Predictor, cuts: np.ndarray) -> Spans:
    """The window each cut reads for predictor p, exactly as `run_backtest` builds it."""
    if p.previous_day:
        now = np.floor(cuts / DAY) * DAY
        return Spans(now - p.window_hours * HOUR, np.nextafter(now, -math.inf), now)
    return Spans(cuts - p.window_hours * HOUR, cuts.copy(), cuts.copy())


def _key(p: Predictor) -> tuple:
    return (p.previous_day, p.window_hours)


def run_backtest_on_engine(events: ir.Table, candidates: Sequence[Predictor], horizon_hours: float,
                           cut_every_minutes: float, t_min: float, t_max: float, *,
                           settings: Settings | None = None, show_progress: bool = True) -> BacktestResult:
    """`run_backtest` for a log the engine holds (`t_min`/`t_max` from the scan report)."""
    span = LogColumns(np.array([t_min, t_max]), np.zeros(0, np.int32), np.zeros(0, np.int8), [])
    cuts = cut_points(span, horizon_hours, cut_every_minutes)
    target = seed_predictor(settings).weights
    halves = {h * HOUR for p in candidates for h in p.half_lives_hours} | {math.inf}
    longest = 2 * max(horizon_hours, *(p.window_hours for p in candidates)) * HOUR  # a group of cuts spans 2 windows
    grid = CutGrid(events, cuts, t_min, t_max, sorted(halves), longest)
    horizon = Spans(np.nextafter(cuts, math.inf), cuts + horizon_hours * HOUR, cuts)
    by_window: dict[tuple, list[int]] = {}
    for i, p in enumerate(candidates):
        by_window.setdefault(_key(p), []).append(i)
    windows = [(candidates[m[0]], m) for m in by_window.values()]
    chunks = grid.chunks([horizon] + [_spans(first, cuts) for first, _m in windows], ROWS_PER_CHUNK)
    relevant = grid.active_counts(horizon.hi, [k for k, w in enumerate(target) if w > 0])
    ideal_weights = {-1: {k: (w, math.inf) for k, w in enumerate(target)}}
    scores: dict[tuple[int, int], tuple[float, float]] = {}
    bar = tqdm(total=len(candidates) * len(chunks), desc="Backtest predictors (engine)", disable=not show_progress)
    for which in chunks:
        which = which[relevant[which] > 0]
        if not len(which):
            bar.update(len(candidates))
            continue
        ideal = {int(j): np.sort(g.s.to_numpy())[::-1]
                 for j, g in best_per_cut(grid, horizon, which, ideal_weights, K_NDCG).groupby("j")}
        for first, members in windows:
            weights = {i: {k: (candidates[i].weights[k], candidates[i].half_lives_hours[k] * HOUR)
                           for k in range(len(target))} for i in members}
            top = best_per_cut(grid, _spans(first, cuts), which, weights, _TOP)
            top["gain"] = _gains(grid, horizon, target, which, top)
            for (i, j), rows in top.groupby(["i", "j"]):
                scores[(int(j), int(i))] = _score(rows.sort_values("rank").gain.to_numpy(), ideal.get(int(j)),
                                                  int(relevant[j]), DISCOUNT)
            bar.update(len(members))
    bar.close()
    kept = np.flatnonzero(relevant > 0)
    rows = [(cuts[j], i, *scores.get((j, i), (0.0, 0.0))) for j in kept for i in range(len(candidates))]
    per_cut = pd.DataFrame(rows, columns=["cut", "predictor", "ndcg", "recall"])
    return BacktestResult(per_cut, list(candidates), cuts[kept], len(cuts) - len(kept))


def _gains(grid: CutGrid, horizon: Spans, target: Sequence[float], which: np.ndarray, top: pd.DataFrame) -> np.ndarray:
    """The horizon's weighted interactions of each (j, p) row of `top` (0 for a product not seen in it)."""
    if top.empty:
        return np.zeros(0)
    pairs = top[["j", "p"]].drop_duplicates()
    got = grid.decayed(horizon, [(k, math.inf) for k in range(len(target))], which,
                       ibis.memtable(pairs.astype({"j": "int64"})))
    got = got.select("j", "p", gain=sum((float(w) * got[f"d_{k}_n"] for k, w in enumerate(target)),
                                        ibis.literal(0.0))).to_pandas()
    return top.merge(got, on=["j", "p"], how="left").gain.fillna(0.0).to_numpy()


def _score(top_gains: np.ndarray, ideal: np.ndarray | None, relevant: int,
           discount: np.ndarray) -> tuple[float, float]:
    """`backtest.score_cut` from the top products' gains, the cut's best gains and its relevant count."""
    head = top_gains[:K_NDCG]
    dcg = float((head * discount[:len(head)]).sum())
    best = ideal[:K_NDCG] if ideal is not None else np.zeros(0)
    recall = float((top_gains[:K_RECALL] > 0).sum()) / min(K_RECALL, relevant)
    return dcg / float((best * discount[:len(best)]).sum()), recall

