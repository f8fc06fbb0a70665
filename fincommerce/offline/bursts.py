"""What the rising backtest feeds its detectors: logs with injected bursts, a shuffled null, and the two
baselines the products we compare against use (Amazon-style interval increase, Algolia-style day uptick).

Events here are (timestamp, product code) arrays sorted by time; product codes index `product_ids`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fincommerce.config import DAY, HOUR


@dataclass(frozen=True)
class Log:
    """A log as sorted columns (the shape every detector reads)."""

    t: np.ndarray  # float64 unix seconds, ascending
    p: np.ndarray  # int64 product codes
    product_ids: list[str]

    @classmethod
    def from_events(cls, events: pd.DataFrame) -> Log:
        codes, uniques = pd.factorize(events["product_id"].astype(str), sort=True)
        t = events["timestamp"].to_numpy(np.float64)
        order = np.argsort(t, kind="stable")
        return cls(t[order], codes[order].astype(np.int64), list(uniques))

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    def with_events(self, t: np.ndarray, p: np.ndarray) -> Log:
        t_all, p_all = np.concatenate([self.t, t]), np.concatenate([self.p, p])
        order = np.argsort(t_all, kind="stable")
        return Log(t_all[order], p_all[order], self.product_ids)


def inject_bursts(log: Log, multiplier: float, n_bursts: int, seed: int, warmup: float,
                  duration: float = 6 * HOUR, floor: int = 6) -> tuple[Log, pd.DataFrame]:
    """Bursts on `n_bursts` random products (seeded): `multiplier` × the product's own expected count over
    `duration` (its whole-log rate), never fewer than `floor` extra events, spread uniformly over the burst."""
    rng = np.random.default_rng(seed)
    span = log.t[-1] - log.t[0]
    products = rng.choice(log.n_products, size=min(n_bursts, log.n_products), replace=False)
    starts = rng.uniform(log.t[0] + warmup, log.t[-1] - duration, len(products))
    own = np.bincount(log.p, minlength=log.n_products)[products] / span * duration
    extra = np.maximum(np.rint(multiplier * own), floor).astype(np.int64)
    t = np.concatenate([s + rng.uniform(0, duration, k) for s, k in zip(starts, extra)])
    p = np.repeat(products, extra)
    bursts = pd.DataFrame({"product": products, "start": starts, "extra": extra, "expected_6h": own})
    return log.with_events(t, p), bursts


def shuffle_within_lifetime(log: Log, seed: int) -> Log:
    """The null: each product keeps its events but their times are uniform between its first and last event."""
    rng = np.random.default_rng(seed)
    first = np.full(log.n_products, np.inf)
    last = np.full(log.n_products, -np.inf)
    np.minimum.at(first, log.p, log.t)
    np.maximum.at(last, log.p, log.t)
    t = first[log.p] + rng.uniform(0, 1, len(log.t)) * (last[log.p] - first[log.p])
    order = np.argsort(t, kind="stable")
    return Log(t[order], log.p[order], log.product_ids)


def counts_between(log: Log, lo: float, hi: float) -> np.ndarray:
    """Events per product with lo < t ≤ hi."""
    a, b = np.searchsorted(log.t, [lo, hi], side="right")
    return np.bincount(log.p[a:b], minlength=log.n_products)


def top_flags(score: np.ndarray, eligible: np.ndarray, top_k: int) -> np.ndarray:
    """The top_k eligible products by score (a ranked list, as both baselines publish)."""
    idx = np.flatnonzero(eligible)
    return idx[np.argsort(-score[idx], kind="stable")[:top_k]]


def amazon_flags(log: Log, now: float, interval: float = 3 * HOUR, top_k: int = 10) -> np.ndarray:
    """Rate of increase between the last two intervals, (c_last − c_prev) / max(c_prev, 1); rising only."""
    last, prev = counts_between(log, now - interval, now), counts_between(log, now - 2 * interval, now - interval)
    return top_flags((last - prev) / np.maximum(prev, 1), last > prev, top_k)


def algolia_flags(log: Log, now: float, history_days: int = 15, floor: int = 250, top_k: int = 10) -> np.ndarray:
    """The last day's count over the previous `history_days` days' daily mean, for products with at least
    `floor` events over those days and the last one; an uptick only (ratio > 1)."""
    last = counts_between(log, now - DAY, now)
    prev = counts_between(log, now - (history_days + 1) * DAY, now - DAY)
    ratio = last / np.maximum(prev / history_days, 1e-12)
    return top_flags(ratio, (last + prev >= floor) & (ratio > 1), top_k)
