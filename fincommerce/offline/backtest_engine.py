"""The trending backtest of `backtest.run_backtest` with the log left in the engine (DuckDB or Spark).

Same cuts, predictors, ranking and scores; the per-product decayed sums come from `logs.cuts` (bucketed
forward decay), so only each cut's top products and the horizon's gains reach Python. Equal to the numpy
path to ~1e-15 in the sums, identical in the rankings (tests/test_logs_engine.py).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from tqdm.auto import tqdm

from fincommerce.config import DAY, HOUR, Settings
from fincommerce.logs.cuts import CutGrid, Spans, top_per_cut
from fincommerce.logs.engine import materialize, release
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
    grid = CutGrid(events, cuts, t_min, t_max, sorted(halves))
    horizon = Spans(np.nextafter(cuts, math.inf), cuts + horizon_hours * HOUR, cuts)
    by_window: dict[tuple, list[int]] = {}
    for i, p in enumerate(candidates):
        by_window.setdefault(_key(p), []).append(i)
    windows = [(candidates[m[0]], m) for m in by_window.values()]
    chunks = grid.chunks([horizon] + [_spans(first, cuts) for first, _m in windows], ROWS_PER_CHUNK)
    scores: dict[tuple[int, int], tuple[float, float]] = {}
    relevant: dict[int, int] = {}
    bar = tqdm(total=len(candidates) * len(chunks), desc="Backtest predictors (engine)", disable=not show_progress)
    for which in chunks:
        gains, ideal = _gains(grid, horizon, target, which, relevant)
        for first, members in windows:
            need = sorted({(k, h * HOUR) for i in members for k, h in enumerate(candidates[i].half_lives_hours)})
            decayed = materialize(grid.decayed(_spans(first, cuts), need, which))
            for (i, j), top_gains in _top_gains(decayed, gains, {i: candidates[i] for i in members}).items():
                if relevant.get(j, 0):
                    scores[(j, i)] = _score(top_gains, ideal.get(j), relevant[j], DISCOUNT)
            bar.update(len(members))
            release(decayed)
        release(gains)
    bar.close()
    kept = [j for j in range(len(cuts)) if relevant.get(j, 0) > 0]
    rows = [(cuts[j], i, *scores.get((j, i), (0.0, 0.0))) for j in kept for i in range(len(candidates))]
    per_cut = pd.DataFrame(rows, columns=["cut", "predictor", "ndcg", "recall"])
    return BacktestResult(per_cut, list(candidates), cuts[kept], len(cuts) - len(kept))


def _gains(grid: CutGrid, horizon: Spans, target: Sequence[float], which: np.ndarray,
           relevant: dict[int, int]) -> tuple[ir.Table, dict[int, np.ndarray]]:
    """The run's horizon gains per (cut, product), kept in the engine; its cuts' relevant counts go into
    `relevant`; returned beside the gains: each cut's best gains, sorted (the ideal ranking's), from the same query."""
    gains_in = grid.decayed(horizon, [(k, math.inf) for k in range(len(target))], which)
    score = sum((float(w) * gains_in[f"d_{k}_n"] for k, w in enumerate(target)), ibis.literal(0.0))
    gains = materialize(gains_in.select("j", "p", gain=score).filter(_.gain > 0))
    best = gains.mutate(n=_.gain.count().over(group_by="j"),
                        rank=ibis.row_number().over(group_by="j", order_by=ibis.desc("gain")))
    best = best.filter(_.rank < K_NDCG).select("j", "n", "gain").to_pandas()
    by_cut = best.groupby("j")
    relevant.update({int(j): int(n) for j, n in by_cut.n.first().items()})
    return gains, {int(j): np.sort(g.gain.to_numpy())[::-1] for j, g in by_cut}


def _top_gains(decayed: ir.Table, gains: ir.Table, members: dict[int, Predictor]) -> dict[tuple[int, int], np.ndarray]:
    """Per (predictor i, cut j): the gains of i's top products, in its rank order (all members in one query)."""
    tops = []
    for i, p in members.items():
        w = {k: (p.weights[k], p.half_lives_hours[k] * HOUR) for k in range(len(p.weights))}
        tops.append(top_per_cut(decayed, w, _TOP).mutate(i=ibis.literal(i).cast("int64")))
    top = ibis.union(*tops).left_join(gains, ["j", "p"])
    top = top.select("i", "j", "rank", gain=_.gain.fill_null(0.0)).to_pandas()
    return {(int(i), int(j)): rows.sort_values("rank").gain.to_numpy() for (i, j), rows in top.groupby(["i", "j"])}


def _score(top_gains: np.ndarray, ideal: np.ndarray | None, relevant: int,
           discount: np.ndarray) -> tuple[float, float]:
    """`backtest.score_cut` from the top products' gains, the cut's best gains and its relevant count."""
    head = top_gains[:K_NDCG]
    dcg = float((head * discount[:len(head)]).sum())
    best = ideal[:K_NDCG] if ideal is not None else np.zeros(0)
    recall = float((top_gains[:K_RECALL] > 0).sum()) / min(K_RECALL, relevant)
    return dcg / float((best * discount[:len(best)]).sum()), recall

