"""Per-candidate model features: the five signals plus a few raw inputs, each owned by one signal.

The learned ranker sees these; its exact per-feature attributions are summed per owning signal, so
its explanations speak of the same five signals as the linear formula. Neutral values are what a
feature takes when its signal says nothing (no semantic match, no budget known, no popularity, no
history): the counterfactual check of explanations sets a signal's features to them, so explanations
credit a signal with what it adds over its neutral value (`neutral_effects`), never with more.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fincommerce.errors import ValidationError
from fincommerce.schema import SIGNALS
from fincommerce.search.signals import NEUTRAL_AFFORDABILITY, SEMANTIC_FLOOR

RAW_FEATURES: tuple[str, ...] = ("cosine", "price_to_budget", "trending_raw", "user_products", "user_purchases")
# What real shoppers follow, as of the ranking moment (`offline.context_features` computes them).
CONTEXT_FEATURES: tuple[str, ...] = (
    "minutes_since_own", "context_recency", "own_views", "own_carts", "own_purchases", "count_1h", "count_24h",
    "count_7d", "view_to_cart", "view_to_purchase", "co_viewed", "co_carted", "price_to_context", "category_match",
    "brand_match")
FEATURE_NAMES: tuple[str, ...] = (*SIGNALS, *RAW_FEATURES, *CONTEXT_FEATURES)
# Which signal each feature speaks for (a user's history volume shapes preferences and look-alikes).
FEATURE_SIGNAL: dict[str, str] = {**{s: s for s in SIGNALS}, "cosine": "semantic", "price_to_budget": "affordability",
                                  "trending_raw": "popularity", "user_products": "preference",
                                  "user_purchases": "collaborative",
                                  # The shopper's own past with the product is a preference; what others do with
                                  # it, popularity; what sessions view together, collaborative; matching the
                                  # context (which stands in for the query), semantic.
                                  **dict.fromkeys(CONTEXT_FEATURES[:5], "preference"),
                                  **dict.fromkeys(CONTEXT_FEATURES[5:10], "popularity"),
                                  "co_viewed": "collaborative", "co_carted": "collaborative",
                                  "price_to_context": "affordability", "category_match": "semantic",
                                  "brand_match": "semantic"}
NAN = float("nan")
# Unknown (NaN) where 0 would claim something: "never viewed" is no recency, a rate of 0 is not "no rate".
NEUTRAL: dict[str, float] = {"semantic": 0.0, "affordability": NEUTRAL_AFFORDABILITY, "preference": 0.0,
                             "collaborative": 0.0, "popularity": 0.0, "cosine": SEMANTIC_FLOOR,
                             "price_to_budget": NAN, "trending_raw": 0.0, "user_products": 0.0,
                             "user_purchases": 0.0, **dict.fromkeys(CONTEXT_FEATURES, 0.0),
                             "minutes_since_own": NAN, "view_to_cart": NAN, "view_to_purchase": NAN,
                             "price_to_context": NAN}
SIGNAL_NEUTRAL = np.array([NEUTRAL[s] for s in SIGNALS])


def raw_features(cosine: np.ndarray, prices: np.ndarray, budget: float | None, popularity: np.ndarray,
                 trending_peak: float, user_products: int, user_purchases: int) -> np.ndarray:
    """(n, 5) raw features in RAW_FEATURES order; price/budget is NaN without a budget (LightGBM's missing)."""
    n = len(cosine)
    ratio = np.asarray(prices, np.float64) / budget if budget else np.full(n, np.nan)
    return np.column_stack([np.asarray(cosine, np.float64), ratio, np.asarray(popularity, np.float64) * trending_peak,
                            np.full(n, float(user_products)), np.full(n, float(user_purchases))]) \
        if n else np.zeros((0, len(RAW_FEATURES)))


def signal_groups(names: Sequence[str]) -> np.ndarray:
    """(F, 5) 0/1 matrix mapping features onto the five signals; unknown names are an error."""
    unknown = [n for n in names if n not in FEATURE_SIGNAL]
    if unknown:
        raise ValidationError("feature_names", f"names among {', '.join(FEATURE_NAMES)}", unknown)
    out = np.zeros((len(names), len(SIGNALS)))
    for i, n in enumerate(names):
        out[i, SIGNALS.index(FEATURE_SIGNAL[n])] = 1.0
    return out


def neutralise(x: np.ndarray, names: Sequence[str], signal: str) -> np.ndarray:
    """A copy of feature rows x (…, F) with every feature of `signal` at its neutral value."""
    out = np.array(x, dtype=np.float64, copy=True)
    for i, n in enumerate(names):
        if FEATURE_SIGNAL[n] == signal:
            out[..., i] = NEUTRAL[n]
    return out


def at_neutral(x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(…, 5) True where every feature of a signal sits at its neutral value (the signal says nothing); an
    unknown (NaN) context feature says nothing either."""
    out = np.ones((*x.shape[:-1], len(SIGNALS)), dtype=bool)
    for i, n in enumerate(names):
        v, unknown = NEUTRAL[n], np.isnan(x[..., i])
        out[..., SIGNALS.index(FEATURE_SIGNAL[n])] &= unknown if np.isnan(v) else \
            (x[..., i] == v) | (unknown & (n in CONTEXT_FEATURES))
    return out


def neutral_effects(contrib: np.ndarray, x: np.ndarray, names: Sequence[str], linear: np.ndarray) -> np.ndarray:
    """(n, 5) what each signal adds over its neutral value: the contributions less what the linear part
    (weights `linear`) gives a neutral signal, and 0 for a signal at its neutral value (never credited).

    Contributions sum to the score from a baseline of 0, but "no budget known" is affordability 0.5: a
    product over budget (affordability < 0.5) has a positive contribution yet would gain if the budget
    were dropped. For the linear formula an effect is exactly the score lost when that signal is set
    neutral; LambdaRank's trees keep their TreeSHAP values (relative to the training mean), so for it
    the counterfactual check stays an empirical test."""
    shifted = contrib - np.asarray(linear, dtype=np.float64) * SIGNAL_NEUTRAL
    return np.where(at_neutral(x, names), 0.0, shifted)
