"""Each evaluated session's candidates as catalogue items, with their popularity as of the session's start.

The replay that builds an EvalData already consumes events in time order; a `PopularityCounter` rides along
and snapshots, at every evaluated session, what the popularity-bias metrics (offline/bias.py) need: which
catalogue item each candidate is, its interaction count (every type, unweighted) so far, whether it is in the
long tail at that moment (Elliot's 80 % head), and the popularity of the products the session converted on
(the mean count of its carted or bought products, candidates or not) for NDCG by target tercile.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fincommerce.offline.bias import long_tail


@dataclass
class SessionPopularity:
    """items (n, C) catalogue indices of the candidates; counts (n, C) and in_tail (n, C) as of each session's
    start; target (n,) the mean count of the session's converted products; n_catalogue the catalogue's size."""

    items: np.ndarray
    counts: np.ndarray
    in_tail: np.ndarray
    target: np.ndarray
    n_catalogue: int

    def rows(self, mask: np.ndarray) -> SessionPopularity:
        return SessionPopularity(self.items[mask], self.counts[mask], self.in_tail[mask], self.target[mask],
                                 self.n_catalogue)


class PopularityCounter:
    """Interaction counts per catalogue item, fed in time order, snapshotted per evaluated session."""

    def __init__(self, n_catalogue: int) -> None:
        self.counts = np.zeros(n_catalogue, dtype=np.float64)
        self._tail: np.ndarray | None = None  # the long tail of the current counts, recomputed after an add
        self._taken: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []

    def add(self, rows: Sequence[int] | np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows):
            self.counts += np.bincount(rows, minlength=len(self.counts))
            self._tail = None

    def take(self, candidates: Sequence[int] | np.ndarray, converted: Sequence[int] | np.ndarray) -> None:
        """Snapshot one session: its candidates' rows and its converted products' rows (catalogue indices)."""
        if self._tail is None:
            self._tail = long_tail(self.counts)
        items = np.asarray(candidates, dtype=np.int64)
        target = float(self.counts[np.asarray(converted, dtype=np.int64)].mean()) if len(converted) else np.nan
        self._taken.append((items, self.counts[items], self._tail[items], target))

    def result(self, n_candidates: int) -> SessionPopularity:
        if not self._taken:
            c = n_candidates
            return SessionPopularity(np.zeros((0, c), np.int64), np.zeros((0, c)), np.zeros((0, c), bool),
                                     np.zeros(0), len(self.counts))
        items, counts, tail, target = zip(*self._taken)
        return SessionPopularity(np.stack(items), np.stack(counts), np.stack(tail), np.array(target),
                                 len(self.counts))
