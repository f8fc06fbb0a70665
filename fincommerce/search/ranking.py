"""Rank candidates by the weighted signals and explain each result faithfully (seed result dicts)."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fincommerce.config import validate_weights
from fincommerce.schema import SIGNALS
from fincommerce.search.context_reasons import top_context_reason
from fincommerce.search.features import CONTEXT_FEATURES, RAW_FEATURES, neutral_effects, raw_features
from fincommerce.search.learned import LearnedRanker
from fincommerce.search.signals import (
    WELL_WITHIN_BUDGET,
    affordability_signal,
    combine,
    preference_terms,
    semantic_signal,
)

log = logging.getLogger(__name__)

STRONG_SEMANTIC = 0.7
MATCH_PREFERENCE = 0.5
SIMILAR_USERS = 0.2
TRENDING, POPULAR = 0.5, 0.2
FALLBACK = "Based on semantic relevance to your query"


@dataclass
class Evidence:
    """What the explanations may claim, beyond the signal values themselves."""

    budget: float | None = None
    floor: float | None = None  # the lower end of an asked price range
    price: float = 0.0
    brand: str = ""
    category: str = ""
    brand_term: float = 0.0
    category_term: float = 0.0
    bought_share: float = 0.0
    window_hours: float = 24.0
    brand_asked: bool = False  # matched because the query named it, not because the user prefers it
    category_asked: bool = False


def explain(scores: Mapping[str, float], contrib: Mapping[str, float], ev: Evidence) -> list[str]:
    """Human-readable reasons, ordered by what each signal adds over its neutral value (`contrib`, see
    `features.neutral_effects`); each only when its threshold is passed, and only for a signal that
    raised the score (so never for one at its neutral value or with weight 0)."""
    found: list[tuple[float, str]] = []
    hours = f"{ev.window_hours:g} hours"
    if scores["popularity"] >= TRENDING:
        found.append((contrib["popularity"], f"🔥 Trending: Very popular in last {hours}"))
    elif scores["popularity"] >= POPULAR:
        found.append((contrib["popularity"], f"📈 Popular in last {hours}"))
    if ev.budget is not None and ev.budget > 0 and ev.floor and ev.floor <= ev.price <= ev.budget:
        found.append((contrib["affordability"], "💰 Within your price range"))
    elif ev.budget is not None and ev.budget > 0 and not ev.floor and ev.price <= ev.budget:
        text = "💰 Well within your budget" if ev.price <= WELL_WITHIN_BUDGET * ev.budget else "💰 Within your budget"
        found.append((contrib["affordability"], text))
    if scores["collaborative"] >= SIMILAR_USERS:
        verb = "purchased" if ev.bought_share > 0 else "showed interest in"
        found.append((contrib["collaborative"], f"🤝 Users with similar behavior {verb} this"))
    brand_ok = bool(ev.brand) and ev.brand_term >= MATCH_PREFERENCE
    cat_ok = bool(ev.category) and ev.category_term >= MATCH_PREFERENCE
    asked = [
        x for x, ok, q in ((ev.brand, brand_ok, ev.brand_asked), (ev.category, cat_ok, ev.category_asked)) if ok and q
    ]
    if asked:
        found.append((contrib["preference"], f"🔎 Matches what you searched for: {' '.join(asked)}"))
    brand_ok, cat_ok = brand_ok and not ev.brand_asked, cat_ok and not ev.category_asked
    if brand_ok and cat_ok:
        found.append((contrib["preference"], f"❤️ Matches your brand ({ev.brand}) & category ({ev.category})"))
    elif brand_ok:
        found.append((contrib["preference"], f"⭐ Matches your preferred brand: {ev.brand}"))
    elif cat_ok:
        found.append((contrib["preference"], f"⭐ Matches your preferred category: {ev.category}"))
    if scores["semantic"] >= STRONG_SEMANTIC:
        found.append((contrib["semantic"], "🎯 Strong match to your search query"))
    found = sorted((x for x in found if x[0] > 0), key=lambda x: -x[0])
    return [text for _, text in found] or [FALLBACK]


def _asked(name: str, asked: set[str], liked: set[str], affinity: Mapping[str, float]) -> bool:
    """Named in the query, and not also a preference of the user (from the UI or their history)."""
    key = name.lower()
    return key in asked and key not in liked and affinity.get(key, 0.0) < MATCH_PREFERENCE


@dataclass
class Candidates:
    """Candidate products with the raw inputs of every signal (aligned arrays)."""

    product_ids: list[str]
    payloads: list[dict[str, Any]]
    cosine: np.ndarray
    popularity: np.ndarray
    collaborative: np.ndarray
    bought_share: np.ndarray
    brand_affinity: Mapping[str, float] = field(default_factory=dict)
    category_affinity: Mapping[str, float] = field(default_factory=dict)
    trending_peak: float = float("nan")  # raw decayed score of the window's top product (learned ranker only)
    user_products: int = 0  # distinct products in the user's behaviour window
    user_purchases: int = 0
    context: np.ndarray | None = None  # (n, len(CONTEXT_FEATURES)) where known (the live engine leaves it None)

    def raw(self, budget: float | None) -> np.ndarray:
        """The raw model features (features.RAW_FEATURES) of these candidates."""
        prices = np.array([float(p.get("price", 0.0)) for p in self.payloads])
        return raw_features(self.cosine, prices, budget, self.popularity, self.trending_peak, self.user_products,
                            self.user_purchases)

    def model_raw(self, budget: float | None) -> tuple[np.ndarray, tuple[str, ...]]:
        """The raw features plus the context ones where known, and their names."""
        if self.context is None:
            return self.raw(budget), RAW_FEATURES
        return np.hstack([self.raw(budget), self.context]), (*RAW_FEATURES, *CONTEXT_FEATURES)


def score_candidates(c: Candidates, budget: float | None, liked_brands: set[str], liked_categories: set[str],
                     floor: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signals (n, 5), brand term, category term)."""
    prices = np.array([float(p.get("price", 0.0)) for p in c.payloads])
    brand_t, cat_t = preference_terms(
        [p.get("brand", "") for p in c.payloads], [p.get("categories", []) for p in c.payloads],
        liked_brands, liked_categories, c.brand_affinity, c.category_affinity)
    signals = np.column_stack([
        semantic_signal(c.cosine),
        affordability_signal(prices, budget, floor),
        0.5 * brand_t + 0.5 * cat_t,
        np.clip(c.collaborative, 0, 1),
        np.clip(c.popularity, 0, 1),
    ]) if len(prices) else np.zeros((0, len(SIGNALS)))
    return signals, brand_t, cat_t


def rank_candidates(c: Candidates, weights: Mapping[str, float], *, budget: float | None = None,
                    floor: float | None = None, liked_brands: set[str] = frozenset(),
                    liked_categories: set[str] = frozenset(), asked_brands: set[str] = frozenset(),
                    asked_categories: set[str] = frozenset(),
                    top_k: int | None = None, window_hours: float = 24.0, debug: bool = False,
                    model: LearnedRanker | None = None) -> list[dict]:
    """Score, sort (final desc, then product_id) and explain: the seed's result dicts.

    With `model` the learned ranker scores instead of the weights; its contributions are exact TreeSHAP."""
    w = validate_weights(weights)
    signals, brand_t, cat_t = score_candidates(c, budget, liked_brands | asked_brands,
                                               liked_categories | asked_categories, floor)
    if model is None:
        wv = np.array([w[s] for s in SIGNALS])
        final, contrib, bias = combine(signals, wv), signals * wv, np.zeros(len(signals))
        effects = neutral_effects(contrib, signals, SIGNALS, wv)
    else:
        x = model.select(signals, *c.model_raw(budget))
        final, contrib, bias, per_feature = model.feature_contributions(x)
        effects = neutral_effects(contrib, x, model.feature_names, model.base)
    order = sorted(range(len(final)), key=lambda i: (-final[i], c.product_ids[i]))[:top_k]
    results = []
    for i in order:
        payload = c.payloads[i]
        scores = dict(zip(SIGNALS, map(float, signals[i])))
        cats = payload.get("categories") or []
        wanted = liked_categories | asked_categories
        matched_cat = next((x for x in cats if x.lower() in wanted), cats[0] if cats else "")
        brand = payload.get("brand", "")
        ev = Evidence(budget, floor, float(payload.get("price", 0.0)), brand, matched_cat, float(brand_t[i]),
                      float(cat_t[i]), float(c.bought_share[i]), window_hours,
                      _asked(brand, asked_brands, liked_brands, c.brand_affinity),
                      _asked(matched_cat, asked_categories, liked_categories, c.category_affinity))
        contributions = dict(zip(SIGNALS, map(float, contrib[i])))
        explanations = explain(scores, dict(zip(SIGNALS, map(float, effects[i]))), ev)
        reason = top_context_reason(per_feature[i], x[i], model.feature_names) if model is not None else None
        if reason:
            explanations = [reason, *(e for e in explanations if e != FALLBACK)]
        results.append({
            "product_id": c.product_ids[i],
            "payload": payload,
            "final_score": float(final[i]),
            **{f"{s}_score": scores[s] for s in SIGNALS},
            "explanations": explanations,
            "reason": explanations[0],
            "contributions": contributions,
            **({"bias": float(bias[i]), "ranker": "learned"} if model is not None else {}),
        })
    if debug:
        log.info("📊 Reranking complete - Score breakdown:")
        for rank, r in enumerate(results, 1):
            log.info("  #%d: final=%.3f (sem=%.2f, aff=%.2f, pref=%.2f, collab=%.2f, pop=%.2f)", rank,
                     r["final_score"], r["semantic_score"], r["affordability_score"], r["preference_score"],
                     r["collaborative_score"], r["popularity_score"])
    return results
