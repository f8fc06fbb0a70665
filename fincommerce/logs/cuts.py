"""Trending at many cut points, inside the engine: forward decay over bucketed partial sums, exact.

Events fall in buckets (g[m-1], g[m]] on a grid through the cut points. Each bucket keeps, per product,
type and half-life h, S = Σ 2^((t − g[m]) / h) — forward decay against the bucket's own landmark g[m], so
no term overflows or cancels. The decayed sum over [lo, hi] at `now` is then a group-by: Σ S·2^(−(now −
g[m]) / h) over the buckets strictly inside, plus the events of the (at most two) edge buckets taken one by
one. Only the top products per cut and their horizon gains leave the engine.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
from ibis import _

from fincommerce.logs.engine import materialize
from fincommerce.schema import INTERACTION_TYPES

TYPE_CODE = {t: i for i, t in enumerate(INTERACTION_TYPES)}


@dataclass(frozen=True)
class Spans:
    """Per cut index j: the range [lo, hi] summed and the time `now` it is decayed to."""

    lo: np.ndarray
    hi: np.ndarray
    now: np.ndarray


class CutGrid:
    """Buckets on a grid whose points include every cut exactly (numpy's own floats, not recomputed)."""

    def __init__(self, events: ir.Table, cuts: np.ndarray, t_min: float, t_max: float,
                 half_lives: Sequence[float]) -> None:
        step = float(cuts[1] - cuts[0]) if len(cuts) > 1 else 3600.0
        before = int(math.ceil((cuts[0] - t_min) / step)) + 2
        after = int(math.ceil((t_max - cuts[-1]) / step)) + 2
        self.grid = np.concatenate([cuts[0] - np.arange(before, 0, -1) * step, cuts,
                                    cuts[-1] + np.arange(1, after + 1) * step])
        self.offset, self.step, self.cuts = before, step, cuts
        self.half_lives = sorted({float(h) for h in half_lives})
        grid = ibis.memtable({"m": np.arange(len(self.grid)), "g_hi": self.grid,
                              "g_lo": np.r_[-np.inf, self.grid[:-1]]})
        ev = events.select(t=events.timestamp, p=events.product_id,
                           k=events.interaction_type.substitute(TYPE_CODE, else_=ibis.null("int8")).cast("int8"))
        ev = ev.mutate(m0=(((ev.t - float(cuts[0])) / step).ceil() + before).cast("int64"))
        ev = ev.join(grid, ev.m0 == grid.m)
        ev = ev.select("t", "p", "k", m=ibis.cases((ev.t > ev.g_hi, ev.m0 + 1), (ev.t <= ev.g_lo, ev.m0 - 1),
                                                   else_=ev.m0))
        self.events = materialize(ev)
        g = ibis.memtable({"m": np.arange(len(self.grid)), "g": self.grid})
        b = self.events.join(g, "m")
        sums = {self._col(h): (ibis.literal(2.0).pow((b.t - b.g) / h)).sum() for h in self.half_lives
                if math.isfinite(h)}
        self.buckets = b.group_by(["m", "g", "p", "k"]).aggregate(n=_.count(), **sums)
        self.buckets = materialize(self.buckets.order_by("m"))  # kept in m order: a run of cuts reads a few blocks
        self._rows: np.ndarray | None = None

    @staticmethod
    def _col(h: float) -> str:
        return "n" if not math.isfinite(h) else f"s_{h:.6g}".replace(".", "_").replace("+", "")

    def bucket_of(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.grid, x, side="left"), 0, len(self.grid))

    def chunks(self, span_sets: Sequence[Spans], max_rows: int) -> list[np.ndarray]:
        """Runs of consecutive cut indices whose spans read at most `max_rows` bucket rows (a lone cut may read
        more), so the engine's group-by per run stays bounded however long or dense the log is."""
        if self._rows is None:
            counts = self.buckets.group_by("m").aggregate(n=_.count()).to_pandas()
            self._rows = np.zeros(len(self.grid) + 2, np.int64)
            self._rows[counts.m.to_numpy()] = counts.n.to_numpy()
        before = np.r_[0, np.cumsum(self._rows)]  # rows in buckets m < i
        cost = sum(np.maximum(before[self.bucket_of(s.hi)] - before[self.bucket_of(s.lo) + 1], 0) for s in span_sets)
        runs, start, total = [], 0, 0
        for j, c in enumerate(cost):
            if j > start and total + c > max_rows:
                runs.append(np.arange(start, j))
                start, total = j, 0
            total += c
        return runs + [np.arange(start, len(cost))] if len(cost) else runs

    def decayed(self, spans: Spans, pairs: Sequence[tuple[int, float]], which: np.ndarray | None = None) -> ir.Table:
        """Per (j, p): a column d_<k>_<h> for each (type code, half-life seconds) pair: Σ 2^(−(now − t)/h)
        over that type's events in [lo, hi] (h = inf: their count); only the cuts j in `which` if given."""
        j = np.arange(len(spans.lo)) if which is None else np.asarray(which)
        lo, hi = spans.lo[j], spans.hi[j]
        ma, mb = self.bucket_of(lo), self.bucket_of(hi)
        edges = np.r_[-np.inf, self.grid, np.inf]  # bucket m holds the times in (edges[m], edges[m + 1]]
        # An edge bucket wholly inside the span is read as its sums, not as its events: a cut is a grid point,
        # so the horizon's first bucket and the window's last one always are.
        one = ma == mb
        inside_a, inside_b = lo <= np.nextafter(edges[ma], np.inf), edges[mb + 1] <= hi
        sums_a, sums_b = inside_a & (~one | inside_b), inside_b & (~one | inside_a)
        a, b = np.where(sums_a, ma - 1, ma), np.where(sums_b, mb + 1, mb)
        sp = ibis.memtable({"j": j, "lo": lo, "hi": hi, "now": spans.now[j], "ma": ma, "mb": mb,
                            "edge_a": ~sums_a, "edge_b": ~one & ~sums_b})
        # every (cut, bucket strictly inside its span) pair, so the engine joins on equality (a hash join that
        # skips the buckets outside the run) and never range-joins the whole bucket table
        n_inside = np.maximum(b - a - 1, 0)
        first = np.cumsum(n_inside) - n_inside
        inside = ibis.memtable({"j": np.repeat(j, n_inside), "now": np.repeat(spans.now[j], n_inside),
                                "m": np.repeat(a + 1, n_inside) + np.arange(n_inside.sum()) - np.repeat(first,
                                                                                                        n_inside)})
        full = inside.join(self.buckets, "m")
        parts = [full.select("j", "p", "k", **{self._col(h): (full[self._col(h)] * ibis.literal(2.0).pow(
            -(full.now - full.g) / h)) if math.isfinite(h) else full.n.cast("float64") for h in self.half_lives})]
        ev = self.events
        for edge, use in (("ma", "edge_a"), ("mb", "edge_b")):
            side = sp.filter(sp[use])
            e = side.join(ev, [ev.m == side[edge], ev.t >= side.lo, ev.t <= side.hi])
            parts.append(e.select("j", "p", "k", **{self._col(h): (ibis.literal(2.0).pow(-(e.now - e.t) / h))
                                                    if math.isfinite(h) else ibis.literal(1.0)
                                                    for h in self.half_lives}))
        rows = ibis.union(*parts)
        cols = {f"d_{k}_{self._col(h)}": ibis.ifelse(rows.k == k, rows[self._col(h)], 0.0).sum() for k, h in pairs}
        return rows.group_by(["j", "p"]).aggregate(**cols)


def top_per_cut(decayed: ir.Table, weights: Mapping[int, tuple[float, float]], k: int) -> ir.Table:
    """The k best products per cut for score Σ w·d_<type>_<h> (`weights`: type code → (w, h seconds)),
    ranked as `backtest._top` ranks: 10-decimal rounded score descending, then product id."""
    score = sum((float(w) * decayed[f"d_{c}_{CutGrid._col(h)}"] for c, (w, h) in weights.items()),
                ibis.literal(0.0))
    return top_scored(decayed.select("j", "p", score=score), k)


def top_scored(scored: ir.Table, k: int) -> ir.Table:
    """The k best rows per cut `j` of a table (j, p, score), ranked as `top_per_cut` ranks them."""
    scored = scored.mutate(r=_.score.round(10))
    scored = scored.filter(scored.r > 0)
    rank = ibis.row_number().over(group_by="j", order_by=[ibis.desc("r"), ibis.asc("p")])
    return scored.mutate(rank=rank).filter(_.rank < k)
