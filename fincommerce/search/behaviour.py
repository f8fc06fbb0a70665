"""Per-user behaviour: decayed behaviour vectors (for look-alikes) and brand/category affinities.

Forward decay again: a user's vector is Σ w·2^((t−L)/h)·v; its direction (all cosine needs) and the
affinity ratios do not depend on `now`, so arrivals are O(1) and nothing is rescanned per search.
Events leave the 7-day behaviour window when the index is rebuilt from the store (on open, and when
the window has moved by a tenth of itself).
"""
from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from fincommerce.config import DAY, HOUR, Settings
from fincommerce.embedding import DIMENSION
from fincommerce.schema import BRAND, CATEGORIES, INTERACTION_TYPE, PRODUCT_ID, TIMESTAMP, USER_ID, Interaction
from fincommerce.store import Range, Store
from fincommerce.trending.decay import forward_weight

NEIGHBOURS = 20
# Behaviour sentences share a template ("user purchased … price …"), so even unrelated shoppers sit at
# 0.4–0.65 cosine. Only shoppers above this floor count as look-alikes, weighted by how far above it.
LOOKALIKE_FLOOR = 0.7


@dataclass(frozen=True)
class BehaviourEvent:
    user_id: str
    product_id: str
    interaction_type: str
    timestamp: float
    brand: str
    categories: Sequence[str]
    vector: np.ndarray


class BehaviourIndex:
    def __init__(self, interaction_weights: Mapping[str, float], half_life_seconds: float,
                 window_seconds: float, dimension: int = DIMENSION) -> None:
        self.interaction_weights = dict(interaction_weights)
        self.max_weight = max(self.interaction_weights.values())
        self.half_life = half_life_seconds
        self.window = window_seconds
        self.dimension = dimension
        self._lock = threading.RLock()
        self.reset()

    @classmethod
    def from_settings(cls, settings: Settings) -> "BehaviourIndex":
        return cls(settings.interaction_weights, settings.half_life_hours * HOUR,
                   settings.behaviour_window_days * DAY, DIMENSION)

    def reset(self, retain_from: float = -np.inf) -> None:
        with self._lock:
            self.users: dict[str, int] = {}
            self._vectors = np.zeros((0, self.dimension), dtype=np.float64)
            self._unit = np.zeros((0, self.dimension), dtype=np.float64)
            self._changed: set[int] = set()  # users whose unit vector is stale
            self.items: list[dict[str, float]] = []  # product → strongest interaction weight (0–1)
            self.purchased: list[set[str]] = []
            self.brands: list[dict[str, float]] = []
            self.categories: list[dict[str, float]] = []
            self.landmark: float | None = None
            self.retain_from = retain_from

    def needs_rebuild(self, now: float) -> bool:
        return now - self.window > self.retain_from + 0.1 * self.window

    def _user(self, user_id: str) -> int:
        idx = self.users.get(user_id)
        if idx is None:
            idx = len(self.users)
            self.users[user_id] = idx
            if idx >= len(self._vectors):
                more = np.zeros((max(256, idx), self.dimension))
                self._vectors, self._unit = np.vstack([self._vectors, more]), np.vstack([self._unit, more])
            self.items.append({})
            self.purchased.append(set())
            self.brands.append(defaultdict(float))
            self.categories.append(defaultdict(float))
        return idx

    def add(self, events: Iterable[BehaviourEvent]) -> None:
        with self._lock:
            for e in events:
                if e.timestamp < self.retain_from:
                    continue
                if self.landmark is None:
                    self.landmark = e.timestamp
                if (e.timestamp - self.landmark) / self.half_life > 500:  # keep 2^x far from overflow
                    self._rescale(e.timestamp)
                u = self._user(e.user_id)
                w = self.interaction_weights[e.interaction_type]
                c = w * float(forward_weight(e.timestamp, self.landmark, self.half_life))
                self._vectors[u] += c * np.asarray(e.vector, dtype=np.float64)
                self._changed.add(u)
                share = w / self.max_weight
                if share > self.items[u].get(e.product_id, 0.0):
                    self.items[u][e.product_id] = share
                if e.interaction_type == "purchase":
                    self.purchased[u].add(e.product_id)
                if e.interaction_type == "view":
                    continue  # a displayed card is not a preference: brand and category tastes need a click or more
                if e.brand:
                    self.brands[u][e.brand.lower()] += c
                for cat in e.categories:
                    self.categories[u][cat.lower()] += c

    def _rescale(self, new_landmark: float) -> None:
        factor = float(forward_weight(self.landmark, new_landmark, self.half_life))
        self._vectors *= factor
        self._changed.update(range(len(self.users)))
        for table in (*self.brands, *self.categories):
            for key in table:
                table[key] *= factor
        self.landmark = new_landmark

    def _unit_vectors(self) -> np.ndarray:
        """Unit rows of the users' vectors; only the users with new events since the last call are
        normalised again (a replay asks once per session, and a session changes a few users)."""
        if self._changed:
            rows = np.fromiter(self._changed, np.intp, len(self._changed))
            v = self._vectors[rows]
            norms = np.linalg.norm(v, axis=1, keepdims=True)
            self._unit[rows] = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
            self._changed.clear()
        return self._unit[: len(self.users)]

    def collaborative(self, user_id: str, product_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(score, purchased share) per candidate from the user's most similar shoppers.

        score(c) = Σ_v a_v · strongest_weight_v(c) / Σ_v a_v over the top-20 look-alikes v, with
        a_v = sim_v − LOOKALIKE_FLOOR > 0 (a purchase counts 1.0, a view 0.1); 0.0 for a user with no history.
        """
        with self._lock:
            out = np.zeros(len(product_ids))
            bought = np.zeros(len(product_ids))
            u = self.users.get(user_id)
            if u is None or len(self.users) < 2:
                return out, bought
            unit = self._unit_vectors()
            sims = unit @ unit[u]
            sims[u] = -np.inf
            k = min(NEIGHBOURS, len(sims) - 1)
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[sims[top] > LOOKALIKE_FLOOR]
            closeness = sims[top] - LOOKALIKE_FLOOR
            total = float(closeness.sum())
            if total <= 0:
                return out, bought
            positions: dict[str, list[int]] = {}
            for i, pid in enumerate(product_ids):
                positions.setdefault(pid, []).append(i)
            for v, a in zip(top, closeness):
                items, purchased, s = self.items[v], self.purchased[v], a / total
                for pid in positions.keys() & items.keys():  # the few candidates this look-alike touched
                    for i in positions[pid]:
                        out[i] += s * items[pid]
                        if pid in purchased:
                            bought[i] += s
            return np.clip(out, 0.0, 1.0), bought

    def affinities(self, user_id: str) -> tuple[dict[str, float], dict[str, float]]:
        """The user's brand and category affinities, each scaled so the favourite is 1.0."""
        with self._lock:
            u = self.users.get(user_id)
            if u is None:
                return {}, {}
            return _scaled(self.brands[u]), _scaled(self.categories[u])


def _scaled(table: Mapping[str, float]) -> dict[str, float]:
    peak = max(table.values(), default=0.0)
    return {k: v / peak for k, v in table.items()} if peak > 0 else {}


class BehaviourHistory:
    """The behaviour index of one interactions collection, built lazily and slid with `now`."""

    def __init__(self, store: Store, collection: str, settings: Settings, lock: threading.RLock) -> None:
        self.store = store
        self.collection = collection
        self.index = BehaviourIndex.from_settings(settings)
        self._lock = lock
        self._built = False

    def resync(self) -> None:
        self._built = False  # the next search re-reads the window from the store

    def on_events(self, events: Sequence[Interaction], vectors: np.ndarray) -> None:
        """Listener of the event log (only once built: the first search reads everything anyway)."""
        if self._built:
            self.index.add(BehaviourEvent(e.user_id, e.product_id, e.interaction_type, e.timestamp, e.brand,
                                          e.categories, v) for e, v in zip(events, vectors))

    def at(self, now: float) -> BehaviourIndex:
        """The index covering the behaviour window before `now` (built or slid from the store when needed)."""
        if self._built and not self.index.needs_rebuild(now):
            return self.index
        with self._lock:
            start = now - self.index.window
            self.index.reset(retain_from=start)
            records = self.store.scroll(self.collection, [Range(TIMESTAMP, gte=start)], with_vectors=True,
                                        fields=[USER_ID, PRODUCT_ID, INTERACTION_TYPE, TIMESTAMP, BRAND, CATEGORIES])
            self.index.add(BehaviourEvent(r.payload[USER_ID], r.payload[PRODUCT_ID], r.payload[INTERACTION_TYPE],
                                          float(r.payload[TIMESTAMP]), r.payload.get(BRAND, ""),
                                          r.payload.get(CATEGORIES) or [], r.vector) for r in records)
            self._built = True
        return self.index
