"""Per-user behaviour: decayed behaviour vectors (for look-alikes) and brand/category affinities.

Forward decay again: a user's vector is Σ w·2^((t−L)/h)·v; its direction (all cosine needs) and the
affinity ratios do not depend on `now`, so arrivals are O(1) and nothing is rescanned per search.
Events leave the 7-day behaviour window as `now` passes them: each is subtracted again, and counts per
user, product, brand and category make what is left exact (a user whose last event left is all zeros).
"""
from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fincommerce.config import DAY, HOUR, Settings
from fincommerce.embedding import DIMENSION
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
    """Users' behaviour over a set of events; events can be added and removed again (exactly, by counts)."""

    def __init__(self, interaction_weights: Mapping[str, float], half_life_seconds: float,
                 window_seconds: float, dimension: int = DIMENSION) -> None:
        self.interaction_weights = dict(interaction_weights)
        self.max_weight = max(self.interaction_weights.values())
        self.type_code = {t: i for i, t in enumerate(self.interaction_weights)}
        self.half_life = half_life_seconds
        self.window = window_seconds
        self.dimension = dimension
        self._lock = threading.RLock()
        self.reset()

    @classmethod
    def from_settings(cls, settings: Settings) -> BehaviourIndex:
        return cls(settings.interaction_weights, settings.half_life_hours * HOUR,
                   settings.behaviour_window_days * DAY, DIMENSION)

    def reset(self, retain_from: float = -np.inf) -> None:
        with self._lock:
            self.users: dict[str, int] = {}
            self._user_names: list[str] = []
            self._vectors = np.zeros((0, self.dimension), dtype=np.float64)
            self._norms = np.zeros(0)  # per user, kept beside the vectors instead of a normalised copy of them
            self._events: list[int] = []  # per user: events held (a user whose last event left gets exact zeros)
            self._changed: set[int] = set()  # users whose unit vector is stale
            self._type_counts: list[dict[str, list[int]]] = []  # per user: product → events per interaction type
            self.items: list[dict[str, float]] = []  # product → strongest interaction weight (0–1)
            self.purchased: list[set[str]] = []
            self.brands: list[dict[str, float]] = []
            self.categories: list[dict[str, float]] = []
            self._taste_counts: list[Counter[tuple[str, str]]] = []  # ("brand" | "category", key) → events
            self.landmark: float | None = None
            self.retain_from = retain_from  # events before this are not held
            self.newest = -np.inf  # the newest event ever added (look-ahead check)

    def _user(self, user_id: str) -> int:
        idx = self.users.get(user_id)
        if idx is None:
            idx = len(self.users)
            self.users[user_id] = idx
            if idx >= len(self._vectors):  # grows by a quarter: at a million users, spare rows cost 0.75 GB, not 3
                more = max(256, idx // 4)
                self._vectors = np.vstack([self._vectors, np.zeros((more, self.dimension))])
                self._norms = np.concatenate([self._norms, np.zeros(more)])
            self._events.append(0)
            self._type_counts.append({})
            self.items.append({})
            self.purchased.append(set())
            self.brands.append(defaultdict(float))
            self.categories.append(defaultdict(float))
            self._taste_counts.append(Counter())
        return idx

    def add(self, events: Iterable[BehaviourEvent]) -> None:
        with self._lock:
            for e in events:
                if e.timestamp >= self.retain_from:
                    self._apply(e, +1)

    def remove(self, events: Iterable[BehaviourEvent]) -> None:
        """Take back events added before (the window's start moved past them)."""
        with self._lock:
            for e in events:
                if e.user_id in self.users:
                    self._apply(e, -1)

    def _apply(self, e: BehaviourEvent, sign: int) -> None:
        if self.landmark is None:
            self.landmark = e.timestamp
        if (e.timestamp - self.landmark) / self.half_life > 500:  # keep 2^x far from overflow
            self._rescale(e.timestamp)
        if sign > 0:
            self.newest = max(self.newest, e.timestamp)
        u = self._user(e.user_id)
        w = self.interaction_weights[e.interaction_type]
        c = sign * w * float(forward_weight(e.timestamp, self.landmark, self.half_life))
        self._events[u] += sign
        if self._events[u]:
            self._vectors[u] += c * np.asarray(e.vector, dtype=np.float64)
        else:
            self._vectors[u] = 0.0
        self._changed.add(u)
        self._count_item(u, e.product_id, e.interaction_type, sign)
        if e.interaction_type == "view":
            return  # a displayed card is not a preference: brand and category tastes need a click or more
        tastes = [(self.brands[u], ("brand", e.brand.lower()))] if e.brand else []
        tastes += [(self.categories[u], ("category", cat.lower())) for cat in e.categories]
        counts = self._taste_counts[u]
        for table, key in tastes:
            counts[key] += sign
            if counts[key]:
                table[key[1]] += c
            else:
                del counts[key]
                table.pop(key[1], None)

    def _count_item(self, u: int, product_id: str, interaction_type: str, sign: int) -> None:
        """Keep the strongest weight and the purchase flag per product exact under removals."""
        counts = self._type_counts[u].setdefault(product_id, [0] * len(self.type_code))
        counts[self.type_code[interaction_type]] += sign
        present = [t for t, i in self.type_code.items() if counts[i] > 0]
        if not present:
            del self._type_counts[u][product_id]
            self.items[u].pop(product_id, None)
            self.purchased[u].discard(product_id)
            return
        self.items[u][product_id] = max(self.interaction_weights[t] for t in present) / self.max_weight
        if "purchase" in present:
            self.purchased[u].add(product_id)
        else:
            self.purchased[u].discard(product_id)

    def _rescale(self, new_landmark: float) -> None:
        factor = float(forward_weight(self.landmark, new_landmark, self.half_life))
        self._vectors *= factor
        self._changed.update(range(len(self.users)))
        for table in (*self.brands, *self.categories):
            for key in table:
                table[key] *= factor
        self.landmark = new_landmark

    def _similarities(self, u: int) -> np.ndarray:
        """Cosine of every user's vector with user u's. Only the norms of users with new events since the last
        call are computed again (a replay asks once per session, and a session changes a few users); no
        normalised copy of the vectors is kept (3 KB per user at 384 dimensions)."""
        if self._changed:
            rows = np.fromiter(self._changed, np.intp, len(self._changed))
            self._norms[rows] = np.linalg.norm(self._vectors[rows], axis=1)
            self._changed.clear()
        n = len(self.users)
        norms = self._norms[:n] * self._norms[u]
        return np.divide(self._vectors[:n] @ self._vectors[u], norms, out=np.zeros(n), where=norms > 0)

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
            sims = self._similarities(u)
            sims[u] = -np.inf
            top = self._lookalikes(sims)
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

    def _lookalikes(self, sims: np.ndarray) -> np.ndarray:
        """The top NEIGHBOURS above the floor; ties (to 1e-12, so float noise of sums built in another order
        does not count) go to the smaller user id, so the choice never depends on the order users arrived in."""
        above = np.flatnonzero(sims > LOOKALIKE_FLOOR)
        if len(above) > NEIGHBOURS:
            rounded = np.round(sims[above], 12)
            kth = np.partition(rounded, len(above) - NEIGHBOURS)[len(above) - NEIGHBOURS]
            above = above[rounded >= kth]
        if len(above) > NEIGHBOURS:
            names = self._names()
            above = np.array(sorted(above, key=lambda v: (-round(float(sims[v]), 12), names[v]))[:NEIGHBOURS])
        return above

    def _names(self) -> list[str]:
        if len(self._user_names) != len(self.users):
            self._user_names = list(self.users)
        return self._user_names

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
