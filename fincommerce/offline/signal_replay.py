"""The replay both real-log protocols share: indexes fed a log's events in time order, read as of a moment.

The conversion protocol (`offline.sessions`) asks at each session's start, the next-view protocol
(`offline.next_view`) at each step of a session; both need the five signals and the learned ranker's raw
features of a candidate list from exactly the events before that moment, so both feed the same pages here.
Other per-page consumers (co-occurrence, context features) ride along as `listeners`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from fincommerce.config import Settings
from fincommerce.embedding import Embedder
from fincommerce.logs.replay import Page
from fincommerce.offline.session_popularity import PopularityCounter
from fincommerce.search.behaviour import BehaviourEvent, BehaviourIndex
from fincommerce.search.ranking import Candidates, score_candidates
from fincommerce.trending.index import TrendingIndex


class PageListener(Protocol):
    def add(self, t: np.ndarray, rows: np.ndarray, kinds: np.ndarray, users: np.ndarray) -> None: ...


def product_vectors(embedder: Embedder, products: pd.DataFrame, show_progress: bool = True) -> np.ndarray:
    """(n, 384) MiniLM vectors of the products' texts, each distinct text embedded once."""
    uniq, inverse = np.unique(products.text.to_numpy(dtype=str), return_inverse=True)
    return embedder.encode(list(uniq), show_progress=show_progress)[inverse]


class SignalReplay:
    """Trending, behaviour and interaction counts over `products` (`offline.sessions._products` rows), fed pages
    in time order; `signals` reads a candidate list's five signals and raw features from their current state."""

    def __init__(self, settings: Settings, products: pd.DataFrame, matrix: np.ndarray,
                 listeners: Sequence[PageListener] = ()) -> None:
        self.payloads = products[["product_id", "name", "brand", "categories", "price"]].to_dict("records")
        self.product_ids = products.product_id.to_numpy()
        self.row_of = {pid: i for i, pid in enumerate(self.product_ids)}
        self.matrix = matrix
        self.trending, self.behaviour = TrendingIndex.from_settings(settings), BehaviourIndex.from_settings(settings)
        self.counter = PopularityCounter(len(products))
        self.listeners = list(listeners)

    def feed(self, page: Page | None) -> None:
        if page is None:
            return
        t, rows, kinds, users = page
        self.counter.add(rows)
        self.trending.add(t, self.product_ids[rows], kinds, [self.payloads[r]["categories"] for r in rows])
        self.behaviour.add(BehaviourEvent(u, self.payloads[r]["product_id"], k, ts, self.payloads[r]["brand"],
                                          self.payloads[r]["categories"], self.matrix[r])
                           for u, r, k, ts in zip(users, rows, kinds, t))
        for listener in self.listeners:
            listener.add(t, rows, kinds, users)

    def signals(self, user: str, rows: Sequence[int], cosine: np.ndarray, now: float,
                budget: float | None) -> tuple[np.ndarray, np.ndarray]:
        """(C, 5) signals and (C, len(RAW_FEATURES)) raw features, float32, of candidate `rows` for `user`."""
        pids = [self.payloads[r]["product_id"] for r in rows]
        collab, bought = self.behaviour.collaborative(user, pids)
        b_aff, c_aff = self.behaviour.affinities(user)
        c = Candidates(pids, [self.payloads[r] for r in rows], cosine,
                       self.trending.popularity(pids, now, self.trending.window), collab, bought, b_aff, c_aff)
        sig, _, _ = score_candidates(c, budget, set(), set())
        raw = self.trending.scores(now, self.trending.window)[0] if self.trending.n_events else np.zeros(0)
        c.trending_peak = float(raw.max()) if len(raw) else 0.0
        u = self.behaviour.users.get(user)
        if u is not None:
            c.user_products, c.user_purchases = len(self.behaviour.items[u]), len(self.behaviour.purchased[u])
        return sig.astype(np.float32), c.raw(budget).astype(np.float32)

    def most_popular(self, now: float, k: int) -> np.ndarray:
        """Product rows of the `k` highest trending scores as of `now` (only products with a score above 0)."""
        if not self.trending.n_events:
            return np.zeros(0, np.int64)
        raw = self.trending.scores(now, self.trending.window)[0]
        top = np.argsort(-raw, kind="stable")[:k]
        top = top[raw[top] > 0]
        return np.array([self.row_of[self.trending.product_ids[j]] for j in top], dtype=np.int64)
