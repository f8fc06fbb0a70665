"""What a result's explanation says when its top contribution is a context feature (`features.CONTEXT_FEATURES`).

The five signals' sentences (`ranking.explain`) speak of a query and a shopper's history; on real logs the
learned ranker's strongest reason is often "you looked at this a minute ago", which only a feature can say.
A sentence is said only for a feature that raised the score and holds a value (never for "never viewed").
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from fincommerce.search.features import CONTEXT_FEATURES, NEUTRAL

WINDOW_TEXT = {"count_1h": "hour", "count_24h": "24 hours", "count_7d": "7 days"}
FIXED = {"own_carts": "🛒 You added this to your cart before", "own_purchases": "🔁 You bought this before",
         "co_viewed": "🛒 Often viewed together with what you just looked at",
         "co_carted": "🛒 Often carted by shoppers who looked at what you just looked at",
         "category_match": "🧭 Same category as what you just looked at",
         "brand_match": "🏷️ Same brand as what you just looked at"}


def ago(minutes: float) -> str:
    """'3 minutes ago', '5 hours ago', '2 days ago'."""
    if minutes < 1:
        return "less than a minute ago"
    for unit, size, until in (("minute", 1, 90), ("hour", 60, 36 * 60), ("day", 1440, math.inf)):
        if minutes < until:
            n = round(minutes / size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return ""


def context_sentence(name: str, values: Mapping[str, float]) -> str:
    """The sentence of one context feature, given the result's feature values by name."""
    v = values[name]
    if name == "context_recency" and v == 1:
        return "👀 The last thing you looked at"
    if name in ("minutes_since_own", "context_recency", "own_views"):
        minutes = values.get("minutes_since_own", math.nan)
        return f"👀 You viewed this {ago(minutes)}" if math.isfinite(minutes) else \
            f"👀 You viewed this {int(values.get('own_views', 0))} times"
    if name in WINDOW_TEXT:
        return f"📈 {int(v)} shopper interactions in the last {WINDOW_TEXT[name]}"
    if name == "view_to_cart":
        return f"🛒 Often added to cart once viewed ({v:.0%})"
    if name == "view_to_purchase":
        return f"💳 Often bought once viewed ({v:.0%})"
    if name == "price_to_context":
        return ("💰 Cheaper than what you have been looking at" if v < 0.8 else
                "💎 A step up from what you have been looking at" if v > 1.25 else
                "💰 Priced like what you have been looking at")
    return FIXED[name]


def top_context_reason(per_feature: np.ndarray, x: np.ndarray, names: Sequence[str]) -> str | None:
    """The sentence for a row whose top per-feature contribution is a context feature that raised the score."""
    if not len(names):
        return None
    j = int(np.argmax(per_feature))
    name, value = names[j], float(x[j])
    if name not in CONTEXT_FEATURES or per_feature[j] <= 0 or math.isnan(value) or value == NEUTRAL[name]:
        return None
    return context_sentence(name, dict(zip(names, map(float, x))))
