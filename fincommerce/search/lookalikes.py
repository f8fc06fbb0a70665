"""Look-alike shoppers: cosine of decayed behaviour vectors, found exactly without holding a vector per user.

A user's vector x_v = Σ c_i·p_i is never stored: with q = P·x̂_u (every distinct event vector against the
asker's unit vector) the numerator of every cosine is one sparse pass over the held events, Σ c_i·q_i.
That pass runs in float32 (a bound on its error is known per user: |error| ≤ EPS·Σ c_i|p_i| / |x_v|), and only
the users it cannot rule out get their cosine again in float64. So the chosen look-alikes and their
similarities are those of exact float64 vectors, ties and all.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from fincommerce.search.held_events import EventTable, VectorPool, grown

NEIGHBOURS = 20
# Behaviour sentences share a template ("user purchased … price …"), so even unrelated shoppers sit at
# 0.4–0.65 cosine. Only shoppers above this floor count as look-alikes, weighted by how far above it.
LOOKALIKE_FLOOR = 0.7
BATCH = 16_384  # event rows turned into float64 at once (~50 MB at 384 dimensions)
# Up to this many users their float64 vectors are kept (≤ 61 MB): the approximate pass is then users × 384, not
# every distinct vector × 384 (a simulated replay has 800 users and 14k distinct sentences: 2x faster).
DENSE_USERS = 20_000


class DenseVectors:
    """Users' float64 vectors while there are few users, refreshed with their norms; `rows` None past that."""

    def __init__(self, dimension: int) -> None:
        self.rows: np.ndarray | None = np.zeros((0, dimension))

    def grow(self, n: int) -> None:
        if self.rows is not None:
            self.rows = grown(self.rows, n) if n <= DENSE_USERS else None

    def scale(self, factor: float) -> None:
        if self.rows is not None:
            self.rows *= factor


def float32_dot_error(dimension: int) -> float:
    """Bound on |float32 p·x − p·x| / (|p||x|): x rounded to float32 (2^-24) plus the rounding of a
    d-term float32 sum in any order (γ_d ≈ d·2^-24), doubled for room."""
    return 2.0 * (dimension + 2) * 2.0 ** -24


def user_vector(events: EventTable, pool: VectorPool, u: int) -> np.ndarray:
    slots = events.slots(u)
    return events.coef[slots] @ pool.rows[events.text[slots]].astype(np.float64)


def vector_norms(events: EventTable, pool: VectorPool, users: np.ndarray,
                 dense: DenseVectors) -> tuple[np.ndarray, np.ndarray]:
    """(|x_v|, Σ c_i·|p_i|) of these users, in float64 from their held events (x_v kept in `dense` if it keeps any)."""
    slots, owner = events.slots_of(users)
    norms = np.zeros(len(users))
    if dense.rows is not None:
        dense.rows[users] = 0.0
    spread = np.bincount(owner, weights=events.coef[slots] * pool.norms[events.text[slots]], minlength=len(users))
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(slots) else np.zeros(0, np.int64)
    i = 0
    while i < len(starts):
        j = max(i + 1, int(np.searchsorted(starts, starts[i] + BATCH, "right")))
        a, b = starts[i], starts[j] if j < len(starts) else len(slots)
        part = slots[a:b]
        weights = sp.csr_matrix((events.coef[part], np.arange(b - a), np.r_[starts[i:j] - a, b - a]),
                                shape=(j - i, b - a))  # float64 sums of the float32 rows (scipy upcasts them)
        vectors = weights @ pool.rows[events.text[part]]
        norms[owner[starts[i:j]]] = np.linalg.norm(vectors, axis=1)
        if dense.rows is not None:
            dense.rows[users[owner[starts[i:j]]]] = vectors
        i = j
    return norms, spread


def _dots(pool: VectorPool, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Pool rows · x in float64, a batch of rows at a time."""
    out = np.empty(len(rows))
    for a in range(0, len(rows), BATCH):
        out[a:a + BATCH] = pool.rows[rows[a:a + BATCH]].astype(np.float64) @ x
    return out


def _numerators(events: EventTable, n: int, q: np.ndarray) -> np.ndarray:
    """Σ c_i·q[text_i] per user: a CSR product over the events grouped by user, COO over those added since."""
    g, size, k = events.grouped, events.size, len(q)
    indptr = events.indptr[:n + 1]
    if len(indptr) < n + 1:  # users who came after the last compact hold nothing in the grouped part
        indptr = np.r_[indptr, np.full(n + 1 - len(indptr), g)]
    out = sp.csr_matrix((events.coef[:g], events.text[:g], indptr), shape=(n, k)) @ q
    if size > g:
        out += sp.coo_matrix((events.coef[g:size], (events.user[g:size], events.text[g:size])), shape=(n, k)) @ q
    return out


def lookalikes(events: EventTable, pool: VectorPool, norms: np.ndarray, spread: np.ndarray, u: int,
               names: Sequence[str], dense: DenseVectors) -> tuple[np.ndarray, np.ndarray]:
    """(look-alike users, their cosine with u): the top NEIGHBOURS above the floor; ties (to 1e-12, so float
    noise of sums built in another order does not count) go to the smaller user id, so the choice never depends
    on the order users arrived in. `norms` must be current for every user."""
    n = len(names)
    empty = np.zeros(0, np.int64), np.zeros(0)
    if norms[u] == 0 or n < 2:
        return empty
    unit = user_vector(events, pool, u) / norms[u]
    nv = norms[:n]
    if dense.rows is not None:  # float64: well inside the float32 pass's bound below
        numerators = dense.rows[:n] @ unit
    else:
        q = (pool.rows[:pool.used] @ unit.astype(np.float32)).astype(np.float64)  # rows past `used` never were
        numerators = _numerators(events, n, q)
    approx = np.divide(numerators, nv, out=np.zeros(n), where=nv > 0)
    bound = np.divide(float32_dot_error(pool.dimension) * spread[:n], nv, out=np.zeros(n), where=nv > 0) + 1e-12
    approx[u] = -np.inf
    low, high = approx - bound, approx + bound
    kth = np.partition(low, n - NEIGHBOURS)[n - NEIGHBOURS] if n > NEIGHBOURS else -np.inf
    # at least NEIGHBOURS users are ≥ kth exactly, so a user whose bound stays below kth − 1e-11 is never chosen
    candidates = np.flatnonzero((high > LOOKALIKE_FLOOR) & (high >= kth - 1e-11))
    if not len(candidates):
        return empty
    slots, owner = events.slots_of(candidates)
    texts, inverse = np.unique(events.text[slots], return_inverse=True)
    exact = np.bincount(owner, weights=events.coef[slots] * _dots(pool, texts, unit)[inverse],
                        minlength=len(candidates)) / norms[candidates]
    keep = exact > LOOKALIKE_FLOOR
    above, sims = candidates[keep], exact[keep]
    if len(above) > NEIGHBOURS:
        rounded = np.round(sims, 12)
        kth = np.partition(rounded, len(above) - NEIGHBOURS)[len(above) - NEIGHBOURS]
        above, sims = above[rounded >= kth], sims[rounded >= kth]
    if len(above) > NEIGHBOURS:
        order = sorted(range(len(above)), key=lambda i: (-round(float(sims[i]), 12), names[above[i]]))[:NEIGHBOURS]
        above, sims = above[order], sims[order]
    return above, sims
