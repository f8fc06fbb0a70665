"""Trending at many cut points, inside the engine: forward decay over bucketed partial sums, exact.

Events fall in buckets (g[m-1], g[m]] on a grid through the cut points. Each bucket keeps, per product,
type and half-life h, S = Σ 2^((t − g[m]) / h) — forward decay against the bucket's own landmark g[m], so
no term overflows or cancels. Aligned blocks of 2, 4, 8, ... buckets keep the same sums against their last
bucket's landmark (built as a span first needs them, up to the size the run's longest span pays for), so a
span of B whole buckets reads about 2·log2(B) block rows per product rather than B. The decayed sum over
[lo, hi] at `now` is then a group-by: Σ S·2^(−(now − g) / h) over the blocks covering the buckets strictly
inside, plus the events of the (at most two) edge buckets taken one by one. Which products a cut scores at
all is `logs/tops.py`'s choice.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
from ibis import _

from fincommerce.logs.engine import materialize
from fincommerce.schema import INTERACTION_TYPES

TYPE_CODE = {t: i for i, t in enumerate(INTERACTION_TYPES)}
ONE = ibis.literal(1).cast("float64")  # an event's count; a bare 1.0 is a decimal to Spark's SQL


@dataclass(frozen=True)
class Spans:
    """Per cut index j: the range [lo, hi] summed and the time `now` it is decayed to."""

    lo: np.ndarray
    hi: np.ndarray
    now: np.ndarray


class CutGrid:
    """Buckets on a grid whose points include every cut exactly (numpy's own floats, not recomputed)."""

    def __init__(self, events: ir.Table, cuts: np.ndarray, t_min: float, t_max: float,
                 half_lives: Sequence[float], longest: float = math.inf) -> None:
        step = float(cuts[1] - cuts[0]) if len(cuts) > 1 else 3600.0
        before = int(math.ceil((cuts[0] - t_min) / step)) + 2
        after = int(math.ceil((t_max - cuts[-1]) / step)) + 2
        self.grid = np.concatenate([cuts[0] - np.arange(before, 0, -1) * step, cuts,
                                    cuts[-1] + np.arange(1, after + 1) * step])
        self.offset, self.step, self.cuts = before, step, cuts
        # blocks pay for spans of many buckets; each level costs a pass over the one below, so spans of at most
        # `longest` seconds read blocks of at most a sixteenth of them (none for spans of under 32 buckets)
        self.max_level = max(0, int(math.log2(max(longest / step, 1.0))) - 4) if math.isfinite(longest) else 62
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
        buckets = b.group_by(["m", "p", "k"]).aggregate(g=_.g.min(), n=_.count(), t0=_.t.min(), **sums)
        self.levels = [materialize(buckets.order_by("m"))]  # kept in m order: a run of cuts reads a few row groups
        self._rows: dict[int, np.ndarray] = {}

    def _level(self, level: int) -> ir.Table:
        """Blocks m of 2^level buckets (m·2^level ... (m + 1)·2^level − 1), their sums against the landmark of
        their last bucket; built from the level below on first use."""
        while len(self.levels) <= level:
            below, size = self.levels[-1], 2 ** len(self.levels)
            last = np.minimum((np.arange(len(self.grid) // size + 1) + 1) * size - 1, len(self.grid) - 1)
            up = ibis.memtable({"up": np.arange(len(last)), "g_up": self.grid[last]})
            rows = below.mutate(up=below.m // 2).join(up, "up")
            sums = {self._col(h): (rows[self._col(h)] * ibis.literal(2.0).pow((rows.g - rows.g_up) / h)).sum()
                    for h in self.half_lives if math.isfinite(h)}
            block = rows.group_by([rows.up.name("m"), rows.g_up.name("g"), "p", "k"]).aggregate(n=_.n.sum(), **sums)
            self.levels.append(materialize(block.order_by("m")))
        return self.levels[level]

    def _count_rows(self, levels: set[int]) -> None:
        """Rows per block of each level (per bucket at level 0), what a span's pieces cost to read; the levels
        not yet counted are counted in one query (each query is a job to Spark)."""
        todo = sorted(levels - set(self._rows))
        if not todo:
            return
        counts = ibis.union(*(self._level(level).group_by("m").aggregate(n=_.count())
                              .mutate(level=ibis.literal(level).cast("int64")) for level in todo)).to_pandas()
        for level in todo:
            rows = np.zeros(len(self.grid) + 2, np.int64)
            mine = counts[counts.level == level]
            rows[mine.m.to_numpy()] = mine.n.to_numpy()
            self._rows[level] = rows

    @staticmethod
    def _col(h: float) -> str:
        return "n" if not math.isfinite(h) else f"s_{h:.6g}".replace(".", "_").replace("+", "")

    def bucket_of(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.grid, x, side="left"), 0, len(self.grid))

    def chunks(self, span_sets: Sequence[Spans], max_rows: int) -> list[np.ndarray]:
        """Runs of consecutive cut indices whose spans read at most `max_rows` block rows (a lone cut may read
        more), so the engine's group-by per run stays bounded however long or dense the log is."""
        cost = np.zeros(len(span_sets[0].lo), np.int64) if span_sets else np.zeros(0, np.int64)
        pieces = [block_pieces(self.bucket_of(s.lo) + 1, self.bucket_of(s.hi) - 1, self.max_level) for s in span_sets]
        self._count_rows({level for p in pieces for level in p})
        for p in pieces:
            for level, (j, m) in p.items():
                np.add.at(cost, j, self._rows[level][m])
        runs, start, total = [], 0, 0
        for j, c in enumerate(cost):
            if j > start and total + c > max_rows:
                runs.append(np.arange(start, j))
                start, total = j, 0
            total += c
        return runs + [np.arange(start, len(cost))] if len(cost) else runs

    def decayed(self, spans: Spans, pairs: Sequence[tuple[int, float]], which: np.ndarray | None = None,
                only: ir.Table | None = None) -> ir.Table:
        """Per (j, p): a column d_<k>_<h> for each (type code, half-life seconds) pair: Σ 2^(−(now − t)/h)
        over that type's events in [lo, hi] (h = inf: their count); only the cuts j in `which` if given, and
        only the (j, p) pairs of `only` if given (looked up by key, so a few pairs cost a few rows)."""
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
        # the buckets strictly inside, as (cut, block) pairs the engine joins on equality: a hash join that skips
        # the blocks outside the run, never a range join over a whole level
        parts = []
        for level, (at, m) in block_pieces(a + 1, b - 1, self.max_level).items():
            inside = ibis.memtable({"j": j[at], "now": spans.now[j[at]], "m": m})
            if only is not None:
                inside = inside.join(only, "j")
            full = inside.join(self._level(level), ["m", "p"] if only is not None else ["m"])
            parts.append(full.select("j", "p", "k", **{self._col(h): (full[self._col(h)] * ibis.literal(2.0).pow(
                -(full.now - full.g) / h)) if math.isfinite(h) else full.n.cast("float64")
                for h in self.half_lives}))
        ev = self.events
        for edge, use in (("ma", "edge_a"), ("mb", "edge_b")):
            side = sp.filter(sp[use])
            e = side.join(ev, [ev.m == side[edge], ev.t >= side.lo, ev.t <= side.hi])
            if only is not None:
                e = e.join(only, ["j", "p"])
            parts.append(e.select("j", "p", "k", **{self._col(h): (ibis.literal(2.0).pow(-(e.now - e.t) / h))
                                                    if math.isfinite(h) else ONE
                                                    for h in self.half_lives}))
        rows = ibis.union(*parts)
        cols = {f"d_{k}_{self._col(h)}": ibis.ifelse(rows.k == k, rows[self._col(h)], 0.0).sum() for k, h in pairs}
        return rows.group_by(["j", "p"]).aggregate(**cols)

    def active_counts(self, hi: np.ndarray, types: Sequence[int]) -> np.ndarray:
        """Per cut j: how many products have an event of `types` in (cuts[j], hi[j]] (hi ascending). Each product's
        first event after a cut decides: a bucket m of the product's, its previous one m' and its first time t0 count
        at the cuts j with m' <= bucket(cut j) < m and hi[j] >= t0 — a range of j, so the counts are a difference
        array, and no (cut, product) pair is ever formed."""
        n, edges = len(self.cuts), np.r_[-np.inf, self.grid]
        # the cuts whose hi falls in bucket m: j0[m] .. j0[m] + within[m] - 1 (few, as hi steps by about a bucket)
        j0 = np.searchsorted(hi, edges, side="right")
        within = np.r_[j0[1:], n] - j0
        if within.max(initial=0) > 3:
            raise ValueError("active_counts: the spans' ends must step by about one bucket")
        near = {f"h{i}": np.where(i < within, hi[np.minimum(j0 + i, n - 1)], np.inf) for i in range(3)}
        table = ibis.memtable({"m": np.arange(len(edges)), "j0": j0, **near})
        first = self.levels[0].filter(self.levels[0].k.isin([int(k) for k in types]))
        first = first.group_by(["m", "p"]).aggregate(t0=_.t0.min())
        first = first.mutate(prev=first.m.lag().over(group_by="p", order_by="m").fill_null(-1)).join(table, "m")
        jt = first.j0 + sum(((first.t0 > first[f"h{i}"]).cast("int64") for i in range(3)), ibis.literal(0))
        a = ibis.greatest(first.prev - self.offset, jt, 0)
        b = ibis.least(first.m - 1 - self.offset, n - 1)
        spans = first.select(a=a, b=b).filter(_.a <= _.b)
        steps = ibis.union(spans.select(at=_.a, d=ibis.literal(1).cast("int64")),
                           spans.select(at=_.b + 1, d=ibis.literal(-1).cast("int64")))
        steps = steps.group_by("at").aggregate(d=_.d.sum()).to_pandas()
        delta = np.zeros(n + 1, np.int64)
        np.add.at(delta, steps["at"].to_numpy(np.int64), steps["d"].to_numpy(np.int64))
        return np.cumsum(delta[:n])


def block_pieces(first: np.ndarray, last: np.ndarray, max_level: int = 62) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The aligned blocks that tile each range of buckets [first[i], last[i]] (empty when last < first), each the
    largest aligned block (of at most 2^max_level buckets) that starts where the previous ended: per level, the
    range positions i and block indices m."""
    out: dict[int, tuple[list[int], list[int]]] = {}
    for i, (lo, hi) in enumerate(zip(first.tolist(), last.tolist())):
        while lo <= hi:
            level = 0
            while level < max_level and lo % (2 << level) == 0 and lo + (2 << level) - 1 <= hi:
                level += 1
            out.setdefault(level, ([], []))
            out[level][0].append(i)
            out[level][1].append(lo >> level)
            lo += 1 << level
    return {level: (np.array(at), np.array(m)) for level, (at, m) in sorted(out.items())}

