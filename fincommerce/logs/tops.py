"""Each cut's top products, ranked in the engine as `backtest._top` ranks, and found without scoring every
product of every cut: a bound on each product's score decides which products are worth scoring."""
from __future__ import annotations

import math
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from fincommerce.logs.cuts import CutGrid, Spans
from fincommerce.logs.engine import materialize, release

CANDIDATES = 10  # per k: the best-bounded products scored exactly to set each cut's floor


def top_per_cut(decayed: ir.Table, weights: Mapping[int, tuple[float, float]], k: int) -> ir.Table:
    """The k best products per cut for score Σ w·d_<type>_<h> (`weights`: type code → (w, h seconds)),
    ranked as `backtest._top` ranks: 10-decimal rounded score descending, then product id."""
    score = sum((float(w) * decayed[f"d_{c}_{CutGrid._col(h)}"] for c, (w, h) in weights.items()),
                ibis.literal(0.0))
    scored = decayed.select("j", "p", s=score, r=score.round(10))
    scored = scored.filter(scored.r > 0)
    rank = ibis.row_number().over(group_by="j", order_by=[ibis.desc("r"), ibis.asc("p")])
    return scored.mutate(rank=rank).filter(_.rank < k)


def best_per_cut(grid: CutGrid, spans: Spans, which: np.ndarray,
                 members: Mapping[int, Mapping[int, tuple[float, float]]], k: int) -> pd.DataFrame:
    """`top_per_cut` for each member i (its `weights`) at the cuts `which`, scoring only the products that can
    reach a top k. A product's score is at most Σ max(w, 0)·(its events' count), so counts over a group of nearby
    cuts' joint span bound it; the k-th best exact score of the best-bounded products at each cut is a floor no
    other product's bound falls below and still makes the top. Exact: the same rows `top_per_cut` gives on every
    product (i, j, p, s raw score, r rounded, rank), at the cost of the counts per (group, product) plus a few
    hundred products per cut instead of every product of every cut."""
    types = sorted({c for w in members.values() for c in w})
    need = sorted({(c, h) for w in members.values() for c, (_w, h) in w.items()})
    group = _span_groups(spans.lo[which], spans.hi[which])
    lo = np.minimum.reduceat(spans.lo[which], np.r_[0, np.flatnonzero(np.diff(group)) + 1])
    hi = np.maximum.reduceat(spans.hi[which], np.r_[0, np.flatnonzero(np.diff(group)) + 1])
    counts = materialize(grid.decayed(Spans(lo, hi, hi), [(c, math.inf) for c in types]))
    in_group = ibis.memtable({"j": np.asarray(which), "g": group})

    def bound(i: int) -> ir.Value:
        return sum((max(float(w), 0.0) * counts[f"d_{c}_n"] for c, (w, _h) in members[i].items()), ibis.literal(0.0))

    def pairs(table: ir.Table) -> ir.Table:
        """(g, p) rows as the (j, p) pairs of every cut of each group."""
        return table.select(g=table.j, p=table.p).distinct().join(in_group, "g").select("j", "p")

    def tops(only: ir.Table | None) -> ir.Table:
        exact = grid.decayed(spans, need, which, only)
        return ibis.union(*(top_per_cut(exact, w, k).mutate(i=ibis.literal(i).cast("int64"))
                            for i, w in members.items()))

    best = ibis.union(*(counts.mutate(u=bound(i)).filter(_.u > 0).mutate(
        rank=ibis.row_number().over(group_by="j", order_by=[ibis.desc("u"), ibis.asc("p")])).filter(
        _.rank < CANDIDATES * k) for i in members))
    kth = tops(pairs(best)).filter(_.rank == k - 1).select("i", "j", "r").to_pandas()
    floor = pd.DataFrame({"i": np.repeat(list(members), len(which)), "j": np.tile(which, len(members)),
                          "g": np.tile(group, len(members))})
    floor = floor.merge(kth, on=["i", "j"], how="left").fillna({"r": 0.0}).groupby(["i", "g"]).r.min()
    kept = ibis.union(*(counts.mutate(u=bound(i)).join(
        ibis.memtable(floor[i].rename("t").reset_index()).rename(j="g"), "j").filter(
        (_.u > 0) & (_.u * (1 + 1e-9) + 1e-9 >= _.t)) for i in members))
    kept = materialize(pairs(kept))
    # a short half-life over a long window bounds poorly (a count bounds a sum of tiny terms): when most pairs
    # survive, every pair's plain group-by is cheaper than looking each one up
    every = int(counts.count().to_pyarrow().as_py()) * len(which) / (group.max() + 1)
    out = tops(kept if int(kept.count().to_pyarrow().as_py()) < every / 2 else None).to_pandas()
    release(kept)
    release(counts)
    return out


def _span_groups(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Consecutive cuts grouped while their joint span stays within twice a cut's own: few groups to bound
    (each a group-by over its products), each bound not much looser than one cut's."""
    group, start, out = 0, 0, np.zeros(len(lo), np.int64)
    for j in range(len(lo)):
        if hi[j] - lo[start] > 2 * (hi[j] - lo[j]):
            group, start = group + 1, j
        out[j] = group
    return out
