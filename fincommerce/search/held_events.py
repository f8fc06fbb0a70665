"""The events a behaviour index holds, as columns, and the distinct behaviour vectors they point to.

Python containers per user (a dict, a set, two defaultdicts, a Counter, a dict of lists) cost ~4 KB per user
and a float64 vector row another 3 KB. Here an event is ~37 bytes in eight numpy columns; a user's events are
linked in arrival order through `next` (so one user's events are found without a scan) and the slots that
events leave are chained into a free list and reused. Vectors are held once per distinct content (events share
them per behaviour sentence), float32 as the store keeps them, with a count of the events using each.
"""
from __future__ import annotations

import hashlib

import numpy as np

NONE = -1
DEAD = -1  # `kind` of a free slot


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

    def intern(self, vector: np.ndarray) -> int:
        v = np.ascontiguousarray(vector, dtype=np.float32)
        if v.shape != (self.dimension,):
            raise ValueError(f"BehaviourEvent.vector: expected {self.dimension} floats, got shape {v.shape}")
        key = hashlib.blake2b(v.tobytes(), digest_size=16).digest()
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
        elif not np.array_equal(self.rows[k], v):  # 128-bit digest collision: never seen, but never silent
            raise RuntimeError("two different behaviour vectors share a digest")
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
        self.size = 0  # slots ever used (the columns' valid prefix); free slots inside it have kind DEAD
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
        self._free = NONE  # first free slot; free slots are chained through `next`

    def add_user(self, u: int) -> None:
        if u >= len(self.head):
            n = capacity_after(u)
            self.head, self.tail = grown(self.head, n, NONE), grown(self.tail, n, NONE)

    def append(self, u: int, product: int, taste: int, text: int, kind: int, t: float, coef: float) -> int:
        s = self._free
        if s != NONE:
            self._free = int(self.next[s])
        else:
            s = self.size
            if s >= len(self.user):
                n = capacity_after(s)
                for name in ("user", "next", "product", "taste", "text", "kind", "t", "coef"):
                    setattr(self, name, grown(getattr(self, name), n))
            self.size += 1
        self.user[s], self.product[s], self.taste[s], self.text[s] = u, product, taste, text
        self.kind[s], self.t[s], self.coef[s], self.next[s] = kind, t, coef, NONE
        last = int(self.tail[u])
        if last == NONE:
            self.head[u] = s
        else:
            self.next[last] = s
        self.tail[u] = s
        self.held += 1
        return s

    def take(self, u: int, product: int, kind: int, t: float) -> int:
        """Unlink and free one held event of u with this product, type and time; its old text row (NONE if u
        holds no such event). Two such events differ at most in their sentence, and leave the window together."""
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
        self.user[s], self.text[s], self.kind[s], self.coef[s], self.taste[s] = 0, 0, DEAD, 0.0, NONE
        self.next[s], self._free = self._free, s
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
        if len(users) <= 4096:
            lists = [self.slots(int(u)) for u in users]
            owner = np.repeat(np.arange(len(users)), [len(s) for s in lists])
            return np.fromiter((s for one in lists for s in one), np.int64, len(owner)), owner
        where = np.full(len(self.head), NONE, np.int64)
        where[users] = np.arange(len(users))
        live = self.kind[:self.size] != DEAD
        slots = np.flatnonzero(live & (where[self.user[:self.size]] != NONE))
        owner = where[self.user[slots]]
        order = np.argsort(owner, kind="stable")
        return slots[order], owner[order]
