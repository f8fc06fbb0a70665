"""The one trending formula, over event columns: the index, the store path, plots and backtests use it.

    raw(p) = Σ w_type(e) · 0.5^((now − t_e)/h_type)   over p's events with now − window ≤ t_e ≤ now
    score(p) = raw(p) / max raw                        (0–1; within the category when one is given)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fincommerce.schema import INTERACTION_TYPES
from fincommerce.trending.decay import decay_factor

TYPE_CODE = {t: i for i, t in enumerate(INTERACTION_TYPES)}


@dataclass(frozen=True)
class EventColumns:
    """Events as parallel arrays (the shape every scoring path consumes)."""

    timestamp: np.ndarray  # float64 unix seconds
    product: np.ndarray  # int32 product index
    type_code: np.ndarray  # int8 index into INTERACTION_TYPES


def score_columns(cols: EventColumns, now: float, weights: np.ndarray, half_lives: np.ndarray,
                  n_products: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct vectorised computation over events already restricted to the window."""
    k = cols.type_code.astype(np.intp)
    contrib = weights[k] * decay_factor(now - cols.timestamp, half_lives[k])
    raw = np.bincount(cols.product, weights=contrib, minlength=n_products)
    count = np.bincount(cols.product, minlength=n_products).astype(np.int64)
    last = np.full(n_products, -math.inf)
    np.maximum.at(last, cols.product, cols.timestamp)
    return raw, count, last


def rank(product_ids: Sequence[str], raw: np.ndarray, count: np.ndarray, last: np.ndarray,
         top_k: int | None, mask: np.ndarray | None = None) -> list[dict]:
    """Seed-shaped rows sorted by score, ties by product_id; normalised by the best in view."""
    present = count > 0
    if mask is not None:
        present &= mask
    idx = np.flatnonzero(present)
    if len(idx) == 0:
        return []
    values = raw[idx]
    if top_k is not None and top_k < len(idx):
        kth = np.partition(values, len(values) - top_k)[len(values) - top_k]
        keep = values >= kth
        idx, values = idx[keep], values[keep]
    peak = float(raw[present].max())
    order = sorted(range(len(idx)), key=lambda i: (-values[i], product_ids[idx[i]]))
    if top_k is not None:
        order = order[:top_k]
    rows = []
    for i in order:
        j = idx[i]
        rows.append({
            "product_id": product_ids[j],
            "total_interactions": int(count[j]),
            "weighted_popularity_score": float(raw[j] / peak) if peak > 0 else 0.0,
            "last_interaction_timestamp": float(last[j]),
            "raw_score": float(raw[j]),
        })
    return rows


def top_from_events(timestamps: np.ndarray, product_ids: Sequence[str], types: Sequence[str],
                    categories: Sequence[Sequence[str]] | None, now: float, timeframe: float,
                    weights: np.ndarray, half_lives: np.ndarray, top_k: int | None,
                    category: str | None = None) -> list[dict]:
    """Ranked rows from plain event lists (the store path, analyses and backtests)."""
    t = np.asarray(timestamps, dtype=np.float64)
    keep = (t >= now - timeframe) & (t <= now)
    if category is not None and categories is not None:
        key = category.lower()
        keep &= np.fromiter((key in {c.lower() for c in cs} for cs in categories), bool, count=len(t))
    sel = np.flatnonzero(keep)
    pids = sorted({product_ids[i] for i in sel})
    index = {pid: j for j, pid in enumerate(pids)}
    cols = EventColumns(
        t[sel],
        np.fromiter((index[product_ids[i]] for i in sel), np.int32, count=len(sel)),
        np.fromiter((TYPE_CODE[types[i]] for i in sel), np.int8, count=len(sel)),
    )
    raw, count, last = score_columns(cols, now, weights, half_lives, len(pids))
    return rank(pids, raw, count, last, top_k)


def raw_over_time(timestamps: np.ndarray, types: Sequence[str], times: np.ndarray, weights: np.ndarray,
                  half_lives: np.ndarray, window: float) -> np.ndarray:
    """raw(p) of one product's events at each of `times`: the same formula, for trending curves."""
    t = np.asarray(timestamps, dtype=np.float64)
    k = np.fromiter((TYPE_CODE[x] for x in types), np.intp, count=len(t))
    age = np.asarray(times, dtype=np.float64)[:, None] - t[None, :]
    inside = (age >= 0) & (age <= window)
    contrib = weights[k][None, :] * decay_factor(np.clip(age, 0, None), half_lives[k][None, :])
    return np.where(inside, contrib, 0.0).sum(1)
