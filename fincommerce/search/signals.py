"""The five signals, each mapped onto [0, 1], and their weighted blend, vectorised over candidates.

Documented mappings (each signal lands in [0, 1]):
- semantic: cosine similarity c mapped linearly from [0.10, 0.60] onto [0, 1] and clipped. MiniLM puts
  unrelated texts near 0.1 and close paraphrases above 0.6, so this spreads the useful range.
- affordability: 1.0 at or under the budget; above it a Gaussian fall-off exp(−½((p−B)/(0.2B))²)
  (0.61 at 1.2×B, 0.04 at 1.5×B); 0.5 (neutral) when no budget is known. A lower bound F ("between 1000
  and 1400") falls off the same way below it: exp(−½((F−p)/(0.2F))²).
- preference: ½·brand + ½·category, each 1.0 when named in the user context or the query, else the
  user's decayed history affinity (favourite = 1.0).
- collaborative, popularity: computed by the behaviour and trending indexes (already in [0, 1]).
Weights that do not sum to 1 are normalised (`config.validate_weights`), so only their ratios matter.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SEMANTIC_FLOOR, SEMANTIC_CEILING = 0.10, 0.60
NEUTRAL_AFFORDABILITY = 0.5
WELL_WITHIN_BUDGET = 0.8
OVER_BUDGET_WIDTH = 0.2


def semantic_signal(cosine: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(cosine, dtype=np.float64) - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR), 0, 1)


def affordability_signal(prices: np.ndarray, budget: float | None, floor: float | None = None) -> np.ndarray:
    prices = np.asarray(prices, dtype=np.float64)
    if budget is None or budget <= 0:
        return np.full(prices.shape, NEUTRAL_AFFORDABILITY)
    over = np.maximum(prices - budget, 0.0) / (OVER_BUDGET_WIDTH * budget)
    under = np.maximum(floor - prices, 0.0) / (OVER_BUDGET_WIDTH * floor) if floor else 0.0
    return np.exp(-0.5 * (over**2 + under**2))


def preference_terms(brands: Sequence[str], categories: Sequence[Sequence[str]], liked_brands: set[str],
                     liked_categories: set[str], brand_affinity: Mapping[str, float],
                     category_affinity: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-candidate (brand term, category term), each in [0, 1]."""
    b = np.array([1.0 if x.lower() in liked_brands else brand_affinity.get(x.lower(), 0.0) for x in brands])
    c = np.array([
        max([1.0 if y.lower() in liked_categories else category_affinity.get(y.lower(), 0.0) for y in cats] or [0.0])
        for cats in categories
    ])
    return b.reshape(len(brands)), c.reshape(len(brands))


def combine(signals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n, 5) signals × (5,) or (m, 5) weights → (n,) or (n, m) final scores: many weights at once."""
    return signals @ np.asarray(weights, dtype=np.float64).T
