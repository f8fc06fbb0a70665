"""The events a behaviour index holds, as columns, and the distinct behaviour vectors they point to.

Python containers per user (a dict, a set, two defaultdicts, a Counter, a dict of lists) cost ~4 KB per user
and a float64 vector row another 3 KB. Here an event is ~37 bytes in eight numpy columns; a user's events are
linked in arrival order through `next` (so one user's events are found without a scan); the slots that
events leave are reclaimed by `compact`, which also groups the columns by user. Vectors are held once per
distinct content (events share them per behaviour sentence), float32 as the store keeps them, with a count
of the events using each.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

NONE = -1
DEAD = -1  # `kind` of a slot whose event was taken out
T = TypeVar("T")
COLUMNS = ("user", "product", "taste", "text", "kind", "t", "coef", "next")


@dataclass(frozen=True)
class BehaviourEvent:
    """One event as a behaviour index takes it in (its vector the store's float32 behaviour vector)."""

    user_id: str
    product_id: str
    interaction_type: str
    timestamp: float
    brand: str
    categories: Sequence[str]
    vector: np.ndarray


def grown(a: np.ndarray, n: int, fill: float = 0) -> np.ndarray:
    out = np.full((n, *a.shape[1:]), fill, dtype=a.dtype)
    out[:len(a)] = a
    return out


def capacity_after(n: int) -> int:
    """Capacity after n: grows by a quarter (spare room costs 25% at most, not the 100% of doubling)."""
    return n + max(1024, n // 4)


class VectorPool:
    """Distinct vectors, by content, each counted by the events that use it; a row nobody uses is reused."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.rows = np.zeros((0, dimension), np.float32)
        self.norms = np.zeros(0)  # float64 |row|, for the error bound of the float32 look-alike pass
        self._refs = np.zeros(0, np.int64)
        self._ids: dict[bytes, int] = {}
        self._keys: list[bytes] = []
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def used(self) -> int:
        """Rows ever used (the rest of `rows` is room to grow)."""
        return len(self._keys)

    def intern(self, vector: np.ndarray) -> int:
        v = vector if getattr(vector, "dtype", None) == np.float32 else np.asarray(vector, dtype=np.float32)
        if v.shape != (self.dimension,):
            raise ValueError(f"BehaviourEvent.vector: expected {self.dimension} floats, got shape {v.shape}")
        key = hashlib.blake2b(v.tobytes(), digest_size=16).digest()  # 128 bits: a collision is never seen
        k = self._ids.get(key)
        if k is None:
            if self._free:
                k = self._free.pop()
            else:
                k = len(self._keys)
                self._keys.append(b"")
                if k >= len(self.rows):
                    n = capacity_after(k)
                    self.rows, self.norms, self._refs = (grown(self.rows, n), grown(self.norms, n),
                                                         grown(self._refs, n))
            self.rows[k] = v
            self.norms[k] = float(np.linalg.norm(v.astype(np.float64)))
            self._ids[key] = k
            self._keys[k] = key
        self._refs[k] += 1
        return k

    def release(self, k: int) -> None:
        self._refs[k] -= 1
        if self._refs[k] == 0:
            del self._ids[self._keys[k]]
            self._free.append(k)


class EventTable:
    """Held events as columns; each user's events are a linked list in arrival order."""

    def __init__(self) -> None:
        self.size = 0  # slots used (the columns' valid prefix); slots of events taken out have kind DEAD
        self.user = np.zeros(0, np.int32)
        self.next = np.zeros(0, np.int32)
        self.product = np.zeros(0, np.int32)
        self.taste = np.zeros(0, np.int32)  # (brand, categories) id; NONE for views (no preference)
        self.text = np.zeros(0, np.int32)  # row of the vector pool
        self.kind = np.zeros(0, np.int8)  # interaction type code
        self.t = np.zeros(0)
        self.coef = np.zeros(0)  # forward-decayed weight w·2^((t−L)/h); 0 in a free slot
        self.head = np.zeros(0, np.int32)
        self.tail = np.zeros(0, np.int32)
        self.held = 0
        self.grouped = 0  # the first `grouped` slots are ordered by user, ...
        self.indptr = np.zeros(1, np.int64)  # ... user u's at indptr[u]:indptr[u + 1] (users at the last compact)

    def add_user(self, u: int) -> None:
        if u >= len(self.head):
            n = capacity_after(u)
            self.head, self.tail = grown(self.head, n, NONE), grown(self.tail, n, NONE)

    def append(self, user: np.ndarray, product: np.ndarray, taste: np.ndarray, text: np.ndarray,
               kind: np.ndarray, t: np.ndarray, coef: np.ndarray) -> None:
        """Add a batch of events in arrival order, linked after each user's last event."""
        m = len(user)
        if not m:
            return
        if self.size + m > len(self.user):
            n = max(capacity_after(len(self.user)), self.size + m)
            for name in COLUMNS:
                setattr(self, name, grown(getattr(self, name), n))
        slots = np.arange(self.size, self.size + m, dtype=np.int32)
        for name, values in zip(COLUMNS[:-1], (user, product, taste, text, kind, t, coef)):
            getattr(self, name)[slots] = values
        self.size += m
        self.held += m
        order = np.argsort(user, kind="stable")
        su, ss = user[order], slots[order]
        same = su[1:] == su[:-1]
        self.next[ss[:-1][same]] = ss[1:][same]
        first, last = np.r_[True, ~same], np.r_[~same, True]
        fu, fs = su[first], ss[first]
        before = self.tail[fu]
        linked = before != NONE
        self.next[before[linked]] = fs[linked]
        self.head[fu[~linked]] = fs[~linked]
        self.tail[su[last]] = ss[last]
        self.next[ss[last]] = NONE

    def take(self, u: int, product: int, kind: int, t: float) -> int:
        """Unlink one held event of u with this product, type and time; its text row (NONE if u holds no such
        event). Two such events differ at most in their sentence, and leave the window together. Its slot stays
        dead until `compact`."""
        prev, s = NONE, int(self.head[u])
        while s != NONE and not (self.product[s] == product and self.kind[s] == kind and self.t[s] == t):
            prev, s = s, int(self.next[s])
        if s == NONE:
            return NONE
        after = int(self.next[s])
        if prev == NONE:
            self.head[u] = after
        else:
            self.next[prev] = after
        if after == NONE:
            self.tail[u] = prev
        text = int(self.text[s])
        self.text[s], self.kind[s], self.coef[s], self.next[s] = 0, DEAD, 0.0, NONE  # user kept: still grouped
        self.held -= 1
        return text

    def slots(self, u: int) -> list[int]:
        out, s = [], int(self.head[u])
        while s != NONE:
            out.append(s)
            s = int(self.next[s])
        return out

    def slots_of(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(slots, position in `users` of each slot's user) of these users' events, grouped by user in the
        order of `users`. A few users are walked; many are found by one pass over the columns."""
        expected = len(users) * self.held / max(1, len(self.head))  # events they hold, about
        if len(users) <= 64 or expected * 64 < self.size:  # a walk step costs ~64 column cells of a pass
            lists = [self.slots(int(u)) for u in users]
            owner = np.repeat(np.arange(len(users)), [len(s) for s in lists])
            return np.fromiter((s for one in lists for s in one), np.int64, len(owner)), owner
        where = np.full(len(self.head), NONE, np.int64)
        where[users] = np.arange(len(users))
        live = self.kind[:self.size] != DEAD
        slots = np.flatnonzero(live & (where[self.user[:self.size]] != NONE))
        owner = where[self.user[slots]]
        if np.all(owner[1:] >= owner[:-1]):  # grouped already (after a compact, users asked in order)
            return slots, owner
        order = np.argsort(owner, kind="stable")
        return slots[order], owner[order]

    def compact(self) -> None:
        """Renumber the held events grouped by user, free slots dropped: the look-alike pass then is a CSR
        product (39 ms at 20M events against 99 ms for events in arrival order). Order within a user is the
        slots' order, which no result depends on."""
        live = np.flatnonzero(self.kind[:self.size] != DEAD)
        order = live[np.argsort(self.user[live], kind="stable")]
        for name in COLUMNS[:-1]:
            setattr(self, name, getattr(self, name)[order])
        n, u = len(order), self.user
        self.head[:], self.tail[:] = NONE, NONE
        self.size = self.grouped = n
        self.indptr = np.searchsorted(u, np.arange(len(self.head) + 1)).astype(np.int64)
        self.next = np.arange(1, n + 1, dtype=np.int32)
        if not n:
            return
        first, last = np.r_[True, u[1:] != u[:-1]], np.r_[u[1:] != u[:-1], True]
        self.next[last] = NONE
        self.head[u[first]], self.tail[u[last]] = np.flatnonzero(first), np.flatnonzero(last)


class PerUser(Generic[T]):
    """`index.items[u]`, `index.purchased[u]`: computed from u's held events when asked."""

    def __init__(self, of: Callable[[int], T]) -> None:
        self._of = of

    def __getitem__(self, u: int) -> T:
        return self._of(u)
