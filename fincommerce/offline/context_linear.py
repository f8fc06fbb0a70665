"""Context features as optional extra linear signals: weight 0 (absent) unless a weight set names them.

The seed's five-signal formula stays the default and unchanged; on real logs a weight set may add, say,
`{"context_recency": 0.5}` beside the five, to see how far a linear formula gets with what the learned ranker
sees. Only features that already read as a score in [0, 1] qualify; co-occurrence sums are clipped to 1 and
an unknown value (NaN) counts 0.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from fincommerce.config import validate_weights
from fincommerce.errors import ValidationError
from fincommerce.schema import SIGNALS

LINEAR_CONTEXT: tuple[str, ...] = ("context_recency", "co_viewed", "co_carted", "view_to_cart", "view_to_purchase",
                                   "category_match", "brand_match")


def linear_inputs(signals: np.ndarray, features: np.ndarray | None, names: Sequence[str],
                  weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(signals (…, 5 + K) with the K context features `weights` names, weights (1, 5 + K) summing to 1)."""
    extra = [k for k in weights if k in LINEAR_CONTEXT]
    five = {k: v for k, v in weights.items() if k not in LINEAR_CONTEXT}
    if not extra:
        w = validate_weights(five)
        return signals, np.array([[w[s] for s in SIGNALS]])
    if features is None or any(k not in names for k in extra):
        raise ValidationError("weights", f"context signals the data carries ({', '.join(names)})", extra)
    for k in extra:
        v = weights[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValidationError(f"weights.{k}", "a finite number >= 0", v)
    if any(five.values()):
        validate_weights(five)  # the five signals' own errors, named as usual
    raw = np.array([float(five.get(s, 0.0)) for s in SIGNALS] + [float(weights[k]) for k in extra])
    if raw.sum() <= 0:
        raise ValidationError("weights", "at least one positive weight", dict(weights))
    cols = [np.clip(np.nan_to_num(features[..., list(names).index(k)], nan=0.0), 0.0, 1.0) for k in extra]
    return np.concatenate([signals, np.stack(cols, axis=-1).astype(signals.dtype)], axis=-1), (raw / raw.sum())[None]
