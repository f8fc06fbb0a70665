"""Pure time-decay math. Base-2 exponentials make "exactly 0.5 after one half-life" hold bit for bit.

Forward decay (Cormode et al., ICDE 2009): with a fixed landmark L, an event at t adds
`w · 2^((t − L)/h)` to an accumulator; the decayed sum at `now` is `2^(−(now − L)/h) · A`.
So scores never need touching as time passes: only arrivals and expiries change them.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def decay_factor(age_seconds: ArrayLike, half_life_seconds: ArrayLike) -> np.ndarray:
    """0.5 ** (age / half_life): 1 now, 0.5 one half-life ago."""
    return np.exp2(-np.asarray(age_seconds, dtype=np.float64) / half_life_seconds)


def forward_weight(t: ArrayLike, landmark: float, half_life_seconds: ArrayLike) -> np.ndarray:
    """Landmark-relative growth factor 2^((t − L)/h) that forward decay accumulates."""
    return np.exp2((np.asarray(t, dtype=np.float64) - landmark) / half_life_seconds)


def scale_at(now: float, landmark: float, half_life_seconds: float) -> float:
    """The factor that turns a forward-decay accumulator into the decayed score at `now`."""
    return float(np.exp2(-(now - landmark) / half_life_seconds))
