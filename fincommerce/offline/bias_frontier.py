"""Accuracy against the long tail: held-out NDCG@10 and APLT as the popularity weight goes 0 → 0.5.

Each point keeps the tuned weights' proportions among the other four signals, rescaled to sum to 1 − w_pop,
so the curve isolates what the popularity weight alone buys in accuracy and costs the long tail. Metrics and
bootstrap CIs are the per-ranker bias table's (offline/ranker_bias.py), on the same held-out sessions.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fincommerce.config import validate_weights
from fincommerce.errors import ValidationError
from fincommerce.offline.evaluation import EvalData
from fincommerce.offline.ranker_bias import K, bias_by_ranker
from fincommerce.schema import SIGNALS

W_POP = tuple(round(0.05 * i, 2) for i in range(11))  # 0, 0.05, …, 0.5
POP = SIGNALS.index("popularity")


def frontier_weights(tuned: Mapping[str, float], w_pop: Sequence[float] = W_POP) -> np.ndarray:
    """(len(w_pop), 5) weight vectors: popularity at each w, the tuned weights' other four rescaled to 1 − w.
    Tuned weights that are popularity alone have no proportions to keep: the other four then share equally."""
    w = np.asarray(w_pop, dtype=np.float64)
    if w.ndim != 1 or not len(w) or (w < 0).any() or (w > 1).any():
        raise ValidationError("w_pop", "a non-empty list of popularity weights between 0 and 1", list(w_pop))
    t = np.array([validate_weights(tuned)[s] for s in SIGNALS])
    rest = np.where(np.arange(len(SIGNALS)) == POP, 0.0, t)
    if rest.sum() <= 0:
        rest = np.where(np.arange(len(SIGNALS)) == POP, 0.0, 1.0)
    return (rest / rest.sum())[None, :] * (1 - w[:, None]) + np.eye(len(SIGNALS))[POP][None, :] * w[:, None]


def popularity_frontier(data: EvalData, tuned: Mapping[str, float], *, w_pop: Sequence[float] = W_POP,
                        split: str = "test", k: int = K, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per popularity weight: the weights, held-out NDCG@k and APLT (95 % CIs), ARP, Gini, coverage@k."""
    held_out = data.rows(data.split == split)
    weights = frontier_weights(tuned, w_pop)
    table = bias_by_ranker(held_out, {f"w_pop {w:.2f}": row for w, row in zip(w_pop, weights)},
                           k=k, n_boot=n_boot, seed=seed)
    columns = [f"ndcg@{k}", f"ndcg@{k} lo", f"ndcg@{k} hi", "APLT", "APLT lo", "APLT hi", "ARP", "ARP lo", "ARP hi",
               "gini", f"coverage@{k}"]
    return pd.concat([pd.DataFrame({"w_pop": np.asarray(w_pop, dtype=np.float64)}),
                      pd.DataFrame(weights.round(6), columns=list(SIGNALS)), table[columns]], axis=1)


def frontier_endpoints(frontier: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The first and last points (w_pop 0 and 0.5 by default): NDCG and APLT with their CIs, for the record."""
    keep = [c for c in frontier.columns if c.startswith(("ndcg@", "APLT"))]
    return {f"w_pop {row['w_pop']:.2f}": {k: round(float(row[k]), 4) for k in keep}
            for _, row in frontier.iloc[[0, -1]].iterrows()}
