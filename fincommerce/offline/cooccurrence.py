"""Item-to-item co-occurrence from finished sessions: what shoppers viewed, and carted, together.

Sessions are each user's runs of events with gaps under 30 minutes, read from the replay's pages, so the
pandas and engine paths count the same thing whichever session ids the log has. A session is counted only once
its user has been idle for the gap (`close_before`): the current session and the future never leak in.
Scores are item-kNN cosines, count(a, b) / sqrt(n(a) · n(b)), summed over the context's items; a session
counts each pair once, and only its first `max_items` distinct products take part, so a crawler's session of
thousands of views costs at most max_items² pairs.
"""
from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence

import numpy as np

from fincommerce.logs.replay import CONTEXT_TYPES, GAINS, SESSION_GAP_SECONDS


class CoOccurrence:
    """Co-viewed and view→cart pair counts over the finished sessions of a time-ordered replay."""

    def __init__(self, n_items: int, gap_seconds: float = SESSION_GAP_SECONDS, max_items: int = 50) -> None:
        self.gap, self.max_items = float(gap_seconds), int(max_items)
        self.viewed_in = np.zeros(n_items, np.int64)  # finished sessions that viewed each item
        self.carted_in = np.zeros(n_items, np.int64)  # finished sessions that carted or bought each item
        self.co_viewed: defaultdict[int, Counter[int]] = defaultdict(Counter)
        self.co_carted: defaultdict[int, Counter[int]] = defaultdict(Counter)  # viewed a -> carted b
        # user -> (last, viewed, carted), least recently active first: pages arrive in time order
        self._open: OrderedDict[str, tuple[float, dict[int, None], dict[int, None]]] = OrderedDict()

    def add(self, t: np.ndarray, rows: np.ndarray, kinds: np.ndarray, users: np.ndarray) -> None:
        """Feed one replay page (time-ordered); a user's gap closes their previous session first."""
        for ts, row, kind, user in zip(t.tolist(), rows.tolist(), kinds.tolist(), users.tolist()):
            current = self._open.get(user)
            if current is not None and ts - current[0] > self.gap:
                self._count(current[1], current[2])
                current = None
            last, viewed, carted = current or (ts, {}, {})
            if kind in CONTEXT_TYPES:
                viewed.setdefault(row)
            elif kind in GAINS:
                carted.setdefault(row)
            self._open[user] = (max(last, ts), viewed, carted)
            self._open.move_to_end(user)

    def close_before(self, now: float) -> None:
        """Count every session whose user has been idle for the gap at `now` (the oldest first: O(closed))."""
        while self._open:
            user, (last, viewed, carted) = next(iter(self._open.items()))
            if now - last <= self.gap:
                break
            del self._open[user]
            self._count(viewed, carted)

    def _count(self, viewed: dict[int, None], carted: dict[int, None]) -> None:
        v = list(viewed)[: self.max_items]
        c = list(carted)[: self.max_items]
        self.viewed_in[v] += 1
        self.carted_in[c] += 1
        for a in v:
            if len(v) > 1:
                self.co_viewed[a].update(b for b in v if b != a)
            if c and c != [a]:
                self.co_carted[a].update(b for b in c if b != a)

    def scores(self, context: Sequence[int], candidates: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(co_viewed, co_carted) per candidate: Σ over context items a of count(a, b) / sqrt(n(a) · n(b))."""
        cand = np.asarray(candidates, np.int64)
        return (self._cosine(self.co_viewed, self.viewed_in, context, cand, self.viewed_in),
                self._cosine(self.co_carted, self.viewed_in, context, cand, self.carted_in))

    @staticmethod
    def _cosine(pairs: defaultdict[int, Counter[int]], n_a: np.ndarray, context: Sequence[int], cand: np.ndarray,
                n_b: np.ndarray) -> np.ndarray:
        out = np.zeros(len(cand))
        for a in dict.fromkeys(context):
            row = pairs.get(a)
            if not row:
                continue
            counts = np.fromiter((row.get(b, 0) for b in cand.tolist()), np.float64, len(cand))
            out += counts / np.sqrt(max(int(n_a[a]), 1) * np.maximum(n_b[cand], 1))
        return out
