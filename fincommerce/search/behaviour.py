"""Per-user behaviour: decayed behaviour vectors (for look-alikes) and brand/category affinities.

Forward decay again: a user's vector is Σ w·2^((t−L)/h)·v; its direction (all cosine needs) and the
affinity ratios do not depend on `now`, so arrivals are O(1) and nothing is rescanned per search.
Events leave the 7-day behaviour window as `now` passes them and are taken out again. What a user holds is
their events themselves (`held_events`: ~37 bytes each, vectors shared by content), and every per-user
answer (vector norm, strongest weight per product, purchases, tastes) is computed from them when asked, so
removals are exact by construction: a user whose last event left holds nothing.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from fincommerce.config import DAY, HOUR, Settings
from fincommerce.embedding import DIMENSION
from fincommerce.search.held_events import NONE, BehaviourEvent, EventTable, PerUser, VectorPool, capacity_after, grown
from fincommerce.search.lookalikes import LOOKALIKE_FLOOR, NEIGHBOURS, DenseVectors, lookalikes, vector_norms
from fincommerce.trending.decay import forward_weight

__all__ = ["LOOKALIKE_FLOOR", "NEIGHBOURS", "BehaviourEvent", "BehaviourIndex"]
BATCH = 65_536  # events put into the columns at once


class BehaviourIndex:
    """Users' behaviour over a set of events; events can be added and removed again (exactly)."""

    def __init__(self, interaction_weights: Mapping[str, float], half_life_seconds: float,
                 window_seconds: float, dimension: int = DIMENSION) -> None:
        self.interaction_weights = dict(interaction_weights)
        self.max_weight = max(self.interaction_weights.values())
        self.type_code = {t: i for i, t in enumerate(self.interaction_weights)}
        self._weights = list(self.interaction_weights.values())
        self._purchase = self.type_code.get("purchase", NONE)
        self.half_life, self.window, self.dimension = half_life_seconds, window_seconds, dimension
        self._lock = threading.RLock()
        self.items, self.purchased = PerUser(self._items_of), PerUser(self._purchased_of)  # strongest weight 0–1
        self.reset()

    @classmethod
    def from_settings(cls, settings: Settings) -> BehaviourIndex:
        return cls(settings.interaction_weights, settings.half_life_hours * HOUR,
                   settings.behaviour_window_days * DAY, DIMENSION)

    def reset(self, retain_from: float = -np.inf) -> None:
        with self._lock:
            self.users: dict[str, int] = {}
            self._names: list[str] = []
            self._events = EventTable()
            self._pool = VectorPool(self.dimension)
            self._products: dict[str, int] = {}
            self._product_names: list[str] = []
            self._tastes: dict[tuple[str, tuple[str, ...]], int] = {}  # (brand, categories), lower case
            self._taste_keys: list[tuple[str, tuple[str, ...]]] = []
            self._norms = np.zeros(0)  # per user: exact |x_v| (current unless stale)
            self._spread = np.zeros(0)  # per user: Σ c_i·|v_i|, the scale of the float32 pass's error
            self._stale = np.zeros(0, bool)
            self._dense = DenseVectors(self.dimension)
            self.landmark: float | None = None
            self.retain_from = retain_from  # events before this are not held
            self.newest = -np.inf  # the newest event ever added (look-ahead check)

    @property
    def held_events(self) -> int:
        return self._events.held

    def _user(self, user_id: str) -> int:
        idx = self.users.get(user_id)
        if idx is None:
            idx = len(self.users)
            self.users[user_id] = idx
            self._names.append(user_id)
            self._events.add_user(idx)
            if idx >= len(self._norms):
                n = capacity_after(idx)
                self._norms, self._spread, self._stale = (grown(self._norms, n), grown(self._spread, n),
                                                          grown(self._stale, n))
                self._dense.grow(n)
        return idx

    def _code(self, e: BehaviourEvent) -> int:
        code = self.type_code.get(e.interaction_type)
        if code is None:
            raise ValueError(f"BehaviourEvent.interaction_type: expected one of {list(self.type_code)}, "
                             f"got {e.interaction_type!r}")
        return code

    def add(self, events: Iterable[BehaviourEvent]) -> None:
        with self._lock:
            batch: list[tuple[int, int, int, int, int, float, float]] = []
            for e in events:
                if e.timestamp >= self.retain_from:
                    batch.append(self._row(e, batch))
                    if len(batch) == BATCH:
                        self._append(batch)
            self._append(batch)

    def _row(self, e: BehaviourEvent, batch: list) -> tuple[int, int, int, int, int, float, float]:
        """The columns of one event (interning its user, product, tastes and vector)."""
        code = self._code(e)
        if self.landmark is None:
            self.landmark = e.timestamp
        if (e.timestamp - self.landmark) / self.half_life > 500:  # keep 2^x far from overflow
            self._append(batch)  # their weights are relative to the old landmark
            self._rescale(e.timestamp)
        self.newest = max(self.newest, e.timestamp)
        u = self._user(e.user_id)
        product = self._products.setdefault(e.product_id, len(self._products))
        if product == len(self._product_names):
            self._product_names.append(e.product_id)
        taste = NONE
        if e.interaction_type != "view":  # a displayed card is not a preference: tastes need a click or more
            key = (e.brand.lower() if e.brand else "", tuple(c.lower() for c in e.categories))
            taste = self._tastes.setdefault(key, len(self._tastes))
            if taste == len(self._taste_keys):
                self._taste_keys.append(key)
        c = self._weights[code] * math.exp2((e.timestamp - self.landmark) / self.half_life)  # forward weight
        return u, product, taste, self._pool.intern(e.vector), code, e.timestamp, c

    def _append(self, batch: list[tuple[int, int, int, int, int, float, float]]) -> None:
        if batch:
            u, product, taste, text, code, t, c = zip(*batch)
            users = np.array(u, np.int32)
            self._events.append(users, np.array(product, np.int32), np.array(taste, np.int32),
                                np.array(text, np.int32), np.array(code, np.int8), np.array(t), np.array(c))
            self._stale[users] = True
            batch.clear()

    def remove(self, events: Iterable[BehaviourEvent]) -> None:
        """Take back events added before (the window's start moved past them); one never held is ignored."""
        with self._lock:
            for e in events:
                u, product = self.users.get(e.user_id), self._products.get(e.product_id)
                if u is None or product is None:
                    continue
                text = self._events.take(u, product, self._code(e), e.timestamp)
                if text != NONE:
                    self._pool.release(text)
                    self._stale[u] = True

    def _rescale(self, new_landmark: float) -> None:
        factor = float(forward_weight(self.landmark, new_landmark, self.half_life))
        self._events.coef[:self._events.size] *= factor
        self._norms *= factor
        self._spread *= factor
        self._dense.scale(factor)
        self.landmark = new_landmark

    def _refresh(self) -> None:
        """Norms of the users whose events changed since the last search (all of them after a first read)."""
        stale = np.flatnonzero(self._stale[:len(self.users)])
        ev = self._events
        if len(stale) > len(self.users) // 4 or ev.size - ev.held > ev.size // 2 or ev.size - ev.grouped > ev.size // 4:
            ev.compact()  # after a first read, once half the slots are free or a quarter not grouped
        if len(stale):
            self._norms[stale], self._spread[stale] = vector_norms(self._events, self._pool, stale, self._dense)
            self._stale[stale] = False

    def collaborative(self, user_id: str, product_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(score, purchased share) per candidate from the user's most similar shoppers.

        score(c) = Σ_v a_v · strongest_weight_v(c) / Σ_v a_v over the top-20 look-alikes v, with
        a_v = sim_v − LOOKALIKE_FLOOR > 0 (a purchase counts 1.0, a view 0.1); 0.0 for a user with no history.
        """
        with self._lock:
            out, bought = np.zeros(len(product_ids)), np.zeros(len(product_ids))
            u = self.users.get(user_id)
            if u is None or len(self.users) < 2:
                return out, bought
            self._refresh()
            top, sims = lookalikes(self._events, self._pool, self._norms, self._spread, u, self._names, self._dense)
            closeness = sims - LOOKALIKE_FLOOR
            total = float(closeness.sum())
            if total <= 0:
                return out, bought
            weights, purchased = self._candidate_items(top, product_ids)
            for s, w, p in zip(closeness / total, weights, purchased):  # look-alikes in order, as the formula sums
                out += s * w
                bought += s * p
            return np.clip(out, 0.0, 1.0), bought

    def _candidate_items(self, top: np.ndarray, product_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(strongest weight / max weight, purchased 0/1), each (look-alike, candidate), from one read of the
        look-alikes' held events (walking each one's events in Python cost a replay 3x the look-alike search)."""
        codes = np.array([self._products.get(pid, NONE) for pid in product_ids], np.int64)
        weights, purchased = np.zeros((len(top), len(codes))), np.zeros((len(top), len(codes)))
        known = np.flatnonzero(codes != NONE)
        if not len(known) or not len(top):
            return weights, purchased
        uniq, col = np.unique(codes[known], return_inverse=True)
        slots, owner = self._events.slots_of(np.asarray(top))
        product, kind = self._events.product[slots].astype(np.int64), self._events.kind[slots].astype(np.int64)
        at = np.minimum(np.searchsorted(uniq, product), len(uniq) - 1)
        hit = uniq[at] == product
        best, bought = np.zeros((len(top), len(uniq))), np.zeros((len(top), len(uniq)))
        np.maximum.at(best, (owner[hit], at[hit]), np.asarray(self._weights)[kind[hit]])
        np.maximum.at(bought, (owner[hit], at[hit]), (kind[hit] == self._purchase).astype(np.float64))
        weights[:, known], purchased[:, known] = best[:, col] / self.max_weight, bought[:, col]
        return weights, purchased

    def _items_of(self, u: int) -> dict[str, float]:
        """Product → strongest interaction weight among u's held events, over the strongest weight."""
        with self._lock:
            best: dict[int, float] = {}
            ev = self._events
            for s in ev.slots(u):
                p, w = int(ev.product[s]), self._weights[ev.kind[s]]
                best[p] = max(best.get(p, w), w)
            return {self._product_names[p]: w / self.max_weight for p, w in best.items()}

    def _purchased_of(self, u: int) -> set[str]:
        with self._lock:
            ev = self._events
            return {self._product_names[ev.product[s]] for s in ev.slots(u) if ev.kind[s] == self._purchase}

    def affinities(self, user_id: str) -> tuple[dict[str, float], dict[str, float]]:
        """The user's brand and category affinities, each scaled so the favourite is 1.0."""
        with self._lock:
            u = self.users.get(user_id)
            if u is None:
                return {}, {}
            brands: dict[str, float] = {}
            categories: dict[str, float] = {}
            ev = self._events
            for s in ev.slots(u):
                if ev.taste[s] == NONE:
                    continue
                brand, cats = self._taste_keys[ev.taste[s]]
                c = float(ev.coef[s])
                if brand:
                    brands[brand] = brands.get(brand, 0.0) + c
                for cat in cats:
                    categories[cat] = categories.get(cat, 0.0) + c
            return _scaled(brands), _scaled(categories)


def _scaled(table: Mapping[str, float]) -> dict[str, float]:
    peak = max(table.values(), default=0.0)
    return {k: v / peak for k, v in table.items()} if peak > 0 else {}
