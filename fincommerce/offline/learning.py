"""Train the LambdaRank ranker from an EvalData (simulated or real-log sessions alike).

Grouped by session, graded gains as labels (LightGBM's label gains set to the gains themselves, so its
NDCG is ours), early stopping on the latest sessions of the training data, monotone in the five signals
(a higher signal never lowers the score, so "remove this signal" moves a result the way its explanation
says), seeded, deterministic and on a fixed number of threads.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np

from fincommerce.config import validate_weights
from fincommerce.errors import ValidationError
from fincommerce.offline.evaluation import EvalData, evaluate
from fincommerce.schema import SIGNALS
from fincommerce.search.learned import LearnedRanker

log = logging.getLogger(__name__)

MONOTONE_UP = {*SIGNALS, "cosine", "trending_raw", "context_recency"}
MONOTONE_DOWN = {"minutes_since_own"}  # the longer ago the shopper looked, the less it says
BASE_SCALE = 10.0  # linear scores differ by ~0.01–0.3 within a session; LambdaRank's sigmoid works on ~1
PARAMS: dict[str, Any] = {
    "objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [10], "lambdarank_truncation_level": 20,
    # Depth-2 trees (pairwise interactions): TreeSHAP cost grows with leaves × depth², and these keep exact
    # contributions for 100 candidates within the 2 ms budget (depth 3: ~4×, 15 leaves: ~18× slower).
    "learning_rate": 0.15, "num_leaves": 4, "max_depth": 2, "min_data_in_leaf": 100, "min_sum_hessian_in_leaf": 1e-3,
    "lambda_l2": 1.0, "verbosity": -1, "deterministic": True, "force_row_wise": True,
}


def labels_and_gains(gains: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Integer labels (0 = no conversion) and the gain of each label, from graded gains."""
    values = np.unique(np.concatenate([[0.0], gains.ravel()]))
    if values.min() < 0 or not np.isfinite(values).all():
        raise ValidationError("gains", "finite graded gains >= 0", values[:5])
    return np.searchsorted(values, gains).astype(np.int32), [float(v) for v in values]


def train_ranker(data: EvalData, *, seed: int = 0, valid_share: float = 0.2, max_rounds: int = 500,
                 early_stopping: int = 40, num_threads: int = 2, params: Mapping[str, Any] | None = None,
                 base: Mapping[str, float] | None = None, base_scale: float = BASE_SCALE) -> LearnedRanker:
    """LambdaRank on every session of `data` (pass the tuning split); its latest `valid_share` stops training.

    With `base` (linear weights) the trees are boosted from `base_scale` × that linear score (init_score), so
    they learn corrections to the tuned linear ranking rather than re-learning it from depth-2 trees."""
    n = len(data.gains)
    n_valid = max(2, int(round(n * valid_share)))
    if n - n_valid < 8:
        raise ValidationError("sessions", "at least 10 sessions with conversions to train and validate on", n)
    x, names = data.model_inputs()
    c, f = x.shape[1], x.shape[2]
    order = np.argsort(data.sessions["timestamp"].to_numpy(), kind="stable") if data.sessions is not None \
        and "timestamp" in data.sessions else np.arange(n)
    fit, valid = order[: n - n_valid], order[n - n_valid:]
    labels, label_gain = labels_and_gains(data.gains)
    p = {**PARAMS, "label_gain": label_gain, "seed": seed, "num_threads": num_threads,
         "monotone_constraints": [1 if nm in MONOTONE_UP else -1 if nm in MONOTONE_DOWN else 0 for nm in names],
         **(params or {})}

    w = np.zeros(len(SIGNALS)) if base is None else base_scale * np.array([validate_weights(base)[s] for s in SIGNALS])
    init = (data.signals.astype(np.float64) @ w) if base is not None else None

    def dataset(rows: np.ndarray, reference: lgb.Dataset | None = None) -> lgb.Dataset:
        return lgb.Dataset(x[rows].reshape(-1, f), labels[rows].reshape(-1), group=np.full(len(rows), c),
                           feature_name=list(names), reference=reference, free_raw_data=False,
                           init_score=None if init is None else init[rows].reshape(-1), params={"verbosity": -1})

    train = dataset(fit)
    started = time.perf_counter()
    booster = lgb.train(p, train, num_boost_round=max_rounds, valid_sets=[dataset(valid, train)],
                        callbacks=[lgb.early_stopping(early_stopping, verbose=False)])
    log.info("LambdaRank: %d rounds (best %d) on %d sessions in %.1f s", booster.current_iteration(),
             booster.best_iteration, len(fit), time.perf_counter() - started)
    # Keep only the rounds early stopping chose: the model file and pred_contrib then agree exactly.
    return LearnedRanker(lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration or -1)),
                         base=w)


def model_scores(model: LearnedRanker, data: EvalData) -> np.ndarray:
    """(n, C) raw scores of the learned ranker."""
    signals = data.signals.astype(np.float64)
    return model.score(model.select(signals, data.features, data.feature_names))


def evaluate_scores(data: EvalData, scores: np.ndarray, k: int = 10) -> dict[str, np.ndarray]:
    """Per-session metrics (n,) of any scores (n, C), ranked with the same ties rule as `evaluate`."""
    one = EvalData(data.sessions, scores[..., None].astype(np.float32), data.gains, data.split)
    return {m: v[:, 0] for m, v in evaluate(one, np.ones((1, 1)), k).items()}
