"""The trending index: exact, incremental time-decayed popularity via forward decay.

It computes the formula of `trending.exact` (tests hold both against pandas). Accumulators live in time
buckets of BUCKET_HALF_LIVES shortest half-lives, each with its own landmark (its start), so no sum spans
more than 2^BUCKET_HALF_LIVES however long the window is against the half-life: nothing is ever re-based,
and removing an event subtracts from sums no larger than 2^16 times it. Paths: the accumulators answer
"the window ending at or after the newest event" in O(products); any other timeframe or look-back inside the
retained events is a vectorised slice of them; older ones are computed from a filtered scroll of the store.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from fincommerce.config import HOUR, Settings
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.trending.buckets import Bucket
from fincommerce.trending.buffer import Buffer
from fincommerce.trending.decay import decay_factor, forward_weight
from fincommerce.trending.exact import TYPE_CODE, EventColumns, rank, score_columns

Follower = Callable[["TrendingIndex", np.ndarray | None, np.ndarray | None], None]
BUCKET_HALF_LIVES = 16.0
EXPIRE_SLACK = 0.02  # expire when the cutoff moved by 2 % of the window, amortising the work


class TrendingIndex:
    """Thread-safe; fed by every log in the process and rebuilt from the store on open."""

    def __init__(self, interaction_weights: Mapping[str, float], half_lives: Mapping[str, float],
                 window_seconds: float, retention_seconds: float | None = None) -> None:
        self.weights = np.array([interaction_weights[t] for t in INTERACTION_TYPES], dtype=np.float64)
        self.half_lives = np.array([half_lives[t] for t in INTERACTION_TYPES], dtype=np.float64)
        self.window = float(window_seconds)
        self.bucket_seconds = BUCKET_HALF_LIVES * float(self.half_lives.min())
        # Events are kept for two windows behind the newest one, so look-backs stay in memory.
        self.retention = float(retention_seconds) if retention_seconds is not None else 2 * self.window
        self._lock = threading.RLock()
        self.followers: list[Follower] = []  # called with every retained event (the rising detector)
        self.reset()

    @classmethod
    def from_settings(cls, settings: Settings) -> TrendingIndex:
        return cls(settings.interaction_weights, {t: settings.half_life_seconds(t) for t in INTERACTION_TYPES},
                   settings.trending_window_hours * HOUR)

    # ----- state -------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.product_ids: list[str] = []
            self._index: dict[str, int] = {}
            self._categories: list[frozenset[str]] = []
            self._masks: dict[str, np.ndarray] = {}
            self._buckets: dict[int, Bucket] = {}
            self._count = np.zeros(0, dtype=np.int64)
            self._last = np.zeros(0)
            self._t, self._p, self._k = Buffer(np.float64), Buffer(np.int32), Buffer(np.int8)
            self._sorted = True
            self.clock = -math.inf  # newest event time seen
            self.retain_from = -math.inf  # events older than this live only in the store
            self.acc_start = -math.inf  # the accumulators hold the retained events at or after this time
            for follower in self.followers:
                follower(self, None, None)

    @property
    def n_events(self) -> int:
        return self._t.end - self._t.start

    def memory_bytes(self) -> int:
        """Bytes held by the arrays (events and per-product state)."""
        return (self._t.nbytes() + self._p.nbytes() + self._k.nbytes() + self._count.nbytes + self._last.nbytes
                + sum(b.acc.nbytes + b.count.nbytes for b in self._buckets.values()))

    def _product(self, pid: str, categories: Iterable[str]) -> int:
        idx = self._index.get(pid)
        if idx is None:
            idx = len(self.product_ids)
            self._index[pid] = idx
            self.product_ids.append(pid)
            self._categories.append(frozenset(c.lower() for c in categories))
            if idx >= self._count.shape[0]:
                grow = max(1024, 2 * self._count.shape[0])
                for bucket in self._buckets.values():
                    bucket.grow(grow)
                self._count = np.pad(self._count, (0, grow))
                self._last = np.pad(self._last, (0, grow), constant_values=-math.inf)
            self._masks.clear()
        return idx

    # ----- writes ------------------------------------------------------------------------
    def add(self, timestamps: Sequence[float], product_ids: Sequence[str], types: Sequence[str],
            categories: Sequence[Sequence[str]] | None = None) -> int:
        """Add events (any order); returns how many fell inside what the index retains."""
        if len(timestamps) == 0:
            return 0
        with self._lock:
            cats = categories if categories is not None else [()] * len(product_ids)
            p = np.fromiter((self._product(pid, c) for pid, c in zip(product_ids, cats)), np.int32,
                            count=len(product_ids))
            t = np.asarray(timestamps, dtype=np.float64)
            k = np.fromiter((TYPE_CODE[x] for x in types), np.int8, count=len(types))
            keep = t >= self.retain_from
            t, p, k = t[keep], p[keep], k[keep]
            if len(t) == 0:
                return 0
            if self._t.end > self._t.start and t.min() < self._t.data[self._t.end - 1]:
                self._sorted = False
            if len(t) > 1 and np.any(np.diff(t) < 0):
                self._sorted = False
            self._t.extend(t)
            self._p.extend(p)
            self._k.extend(k)
            self.clock = max(self.clock, float(t.max()))
            for follower in self.followers:
                follower(self, t, p)
            inside = t >= self.acc_start  # late arrivals before the accumulated window stay in the buffer
            self._accumulate(t[inside], p[inside], k[inside], +1)
            if self.clock - self.retention > self.retain_from + EXPIRE_SLACK * self.retention:
                self._expire(self.clock - self.retention)
            return len(t)

    def _ensure_sorted(self) -> None:
        if self._sorted:
            return
        order = np.argsort(self._t.view(), kind="stable")
        for buf in (self._t, self._p, self._k):
            buf.data[buf.start:buf.end] = buf.view()[order]
        self._sorted = True

    def _accumulate(self, t: np.ndarray, p: np.ndarray, k: np.ndarray, sign: int) -> None:
        """Add (+1) or subtract (−1) exactly what events contribute; products left empty are reset."""
        if not len(t):
            return
        ids = np.floor(t / self.bucket_seconds).astype(np.int64)
        for b in np.unique(ids).tolist():
            sel = ids == b
            bucket = self._buckets.get(b)
            if bucket is None:
                bucket = self._buckets[b] = Bucket(len(self.weights), self._count.shape[0])
            tb, pb, kb = t[sel], p[sel], k[sel]
            landmark = b * self.bucket_seconds
            bucket.add(kb, pb, sign * self.weights[kb] * forward_weight(tb, landmark, self.half_lives[kb]), sign)
            if sign < 0 and bucket.empty():
                del self._buckets[b]
        np.add.at(self._count, p, sign)
        if sign > 0:
            np.maximum.at(self._last, p, t)
        else:
            gone = self._count[: len(self.product_ids)] == 0
            self._last[: len(self.product_ids)][gone] = -math.inf

    def _slide(self, start: float) -> None:
        """Move the accumulated window's start forward: only the events leaving it are touched (amortised O(1))."""
        if start <= self.acc_start:
            return
        self._ensure_sorted()
        times = self._t.view()
        lo, hi = np.searchsorted(times, [self.acc_start, start], side="left")
        self._accumulate(times[lo:hi], self._p.view()[lo:hi], self._k.view()[lo:hi], -1)
        self.acc_start = start

    def _expire(self, cutoff: float) -> None:
        """Forget events with t < cutoff (they stay in the store): subtract exactly what they added."""
        self._slide(cutoff)
        n = int(np.searchsorted(self._t.view(), cutoff, side="left"))
        for buf in (self._t, self._p, self._k):
            buf.drop_head(n)
        self.retain_from = cutoff

    def _rebuild_accumulators(self) -> None:
        """Sums recomputed from the retained events (a restored checkpoint carries events, not sums)."""
        inside = self._t.view() >= self.acc_start
        self._buckets.clear()
        self._count[:] = 0
        self._last[:] = -math.inf
        self._accumulate(self._t.view()[inside], self._p.view()[inside], self._k.view()[inside], +1)
        for follower in self.followers:  # (None, None): start over from what the index holds
            follower(self, None, None)

    # ----- reads -------------------------------------------------------------------------
    def covers(self, start: float) -> bool:
        """True when every event at or after `start` is held here (else ask the store)."""
        return start >= self.retain_from

    def _mask(self, category: str | None, n: int) -> np.ndarray | None:
        if category is None:
            return None
        key = category.lower()
        mask = self._masks.get(key)
        if mask is None or len(mask) != n:
            mask = np.fromiter((key in cats for cats in self._categories), bool, count=n)
            self._masks[key] = mask
        return mask

    def scores(self, now: float, timeframe: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(raw, count, last) per product for events in [now − timeframe, now]; index must cover it."""
        with self._lock:
            n, start = len(self.product_ids), now - timeframe
            if not self.covers(start):
                raise ValueError("window starts before the retained events; use the store")
            if n == 0 or start > self.clock:
                return np.zeros(n), np.zeros(n, dtype=np.int64), np.full(n, -math.inf)
            self._ensure_sorted()
            times = self._t.view()
            hi = int(np.searchsorted(times, now, side="right"))
            if hi == len(times) and start >= self.acc_start:
                if timeframe == self.window:  # the live call: slide the window instead of rescanning it
                    self._slide(start)
                # Accumulators minus the retained events between the accumulated start and the window start.
                acc_lo, lo = np.searchsorted(times, [self.acc_start, start], side="left")
                raw = np.zeros(n)
                for b, bucket in self._buckets.items():
                    raw += decay_factor(now - b * self.bucket_seconds, self.half_lives) @ bucket.acc[:, :n]
                count, last = self._count[:n].copy(), self._last[:n].copy()
                if lo > acc_lo:
                    t, p, k = times[acc_lo:lo], self._p.view()[acc_lo:lo], self._k.view()[acc_lo:lo]
                    raw -= np.bincount(p, weights=self.weights[k] * decay_factor(now - t, self.half_lives[k]),
                                       minlength=n)
                    count -= np.bincount(p, minlength=n)
                    raw[count == 0] = 0.0
                    last[count == 0] = -math.inf
                return np.maximum(raw, 0.0), count, last
            lo = int(np.searchsorted(times, start, side="left"))
            cols = EventColumns(times[lo:hi], self._p.view()[lo:hi], self._k.view()[lo:hi])
            return score_columns(cols, now, self.weights, self.half_lives, n)

    def top(self, now: float, timeframe: float, top_k: int | None, category: str | None = None) -> list[dict]:
        raw, count, last = self.scores(now, timeframe)
        return rank(self.product_ids, raw, count, last, top_k, self._mask(category, len(raw)))

    def count_in_window(self, now: float, timeframe: float, category: str | None = None) -> int:
        """Events in [now − timeframe, now] (within the category when one is given)."""
        count = self.scores(now, timeframe)[1]
        mask = self._mask(category, len(count))
        return int(count.sum() if mask is None else count[mask].sum())

    def popularity(self, product_ids: Sequence[str], now: float, timeframe: float) -> np.ndarray:
        """0–1 scores aligned with `product_ids` (0.0 for products never seen)."""
        raw, _, _ = self.scores(now, timeframe)
        peak = raw.max() if len(raw) else 0.0
        out = np.zeros(len(product_ids))
        if peak <= 0:
            return out
        for i, j in enumerate(self._index.get(pid) for pid in product_ids):
            if j is not None:
                out[i] = raw[j] / peak
        return out
