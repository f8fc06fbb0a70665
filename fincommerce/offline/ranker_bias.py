"""What each ranker of the tuning notebook does to the long tail, beside its accuracy, on held-out sessions.

Every ranker's top 10 per session becomes catalogue items through `EvalData.popularity` (each candidate's
interaction count and long-tail membership as of the session's start, so nothing is judged with counts from
its future) and is measured with offline/bias.py: ARP, APLT, Gini of exposure, coverage@10, entropy and
NDCG@10 by the target's popularity tercile, beside NDCG@10. The means over sessions (NDCG, ARP, APLT, the
tercile NDCGs) get 95 % percentile bootstrap CIs resampling sessions, the same resamples for every ranker;
Gini, coverage and entropy get none (bias.py says why). Lists are ranked with `evaluate`'s ties rule, so the
NDCG@10 beside them is the one the comparison tables report.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fincommerce.config import validate_weights
from fincommerce.errors import ValidationError
from fincommerce.offline.bias import Exposure
from fincommerce.offline.evaluation import EvalData, bootstrap_ci, evaluate
from fincommerce.offline.learning import evaluate_scores, model_scores
from fincommerce.offline.rankers import DEFAULTS, LEARNED, TUNED, RankerComparison
from fincommerce.offline.session_popularity import SessionPopularity
from fincommerce.offline.sessions import RECENCY
from fincommerce.schema import SIGNALS

K = 10
CHUNK = 256  # sessions per block of pairwise score differences (CHUNK × C × C floats)


def top_k(signals: np.ndarray, weights: np.ndarray, k: int = K) -> np.ndarray:
    """(n, min(k, C)) candidate positions of each session's top k for signals (n, C, F) · weights (F,).

    Scores within 1e-7 are ties and go to the earlier candidate, `evaluate`'s stated rule, computed the same
    way (float32 signal differences times the weights). `evaluate` applies the tolerance only in the earlier
    candidate's favour, so there a later candidate whose different signals sum to the same score wins by float
    rounding; here it loses both ways, so every list is one consistent order."""
    n, c, f = signals.shape
    w = np.append(np.asarray(weights, dtype=np.float32), np.float32(1.0))
    order = np.arange(c)
    earlier = np.sign(order[None, :] - order[:, None]).astype(np.float32) * np.float32(1e-7)  # [j, p]: ± for j ≶ p
    out = np.zeros((n, min(k, c)), dtype=np.int64)
    for start in range(0, n, CHUNK):
        s = signals[start:start + CHUNK].astype(np.float32)
        diff = s[:, :, None, :] - s[:, None, :, :]  # [session, j, p]: j's signals minus p's
        tie = np.broadcast_to(earlier[None, :, :, None], (len(s), c, c, 1))
        pairs = np.concatenate([diff, tie], axis=3).reshape(-1, f + 1)
        rank = ((pairs @ w[:, None]).reshape(len(s), c, c) > 0).sum(1)  # (m, C): how many beat each p
        out[start:start + CHUNK] = np.argsort(rank, axis=1, kind="stable")[:, :k]
    return out


def _popularity(data: EvalData) -> SessionPopularity:
    if data.popularity is None:
        raise ValidationError("data", "an EvalData from build_eval_data or build_session_data (it carries each "
                              "candidate's popularity as of its session's start)", "popularity=None")
    return data.popularity


def _as_inputs(data: EvalData, scorer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(signals, weights) of a scorer: linear weights (5,) apply to the signals; scores (n, C) stand alone."""
    scorer = np.asarray(scorer)
    if scorer.ndim == 1:
        return data.signals, scorer
    return scorer[..., None], np.ones(1)


def _ndcg(data: EvalData, scorer: np.ndarray, k: int) -> np.ndarray:
    scorer = np.asarray(scorer)
    return evaluate(data, scorer, k)["ndcg"][:, 0] if scorer.ndim == 1 else evaluate_scores(data, scorer, k)["ndcg"]


def bias_by_ranker(data: EvalData, scorers: Mapping[str, np.ndarray], *, k: int = K, n_boot: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """One row per named scorer over every session of `data`: NDCG@k with its CI, then the bias metrics.

    A scorer is linear weights (5,) over the signals or scores (n, C) of the sessions' candidates."""
    pop = _popularity(data)
    names = list(scorers)
    rows = np.arange(len(data.gains))[:, None]
    tops = [top_k(*_as_inputs(data, scorers[name]), k) for name in names]
    stack = [np.stack([a[rows, t] for t in tops], axis=1) for a in (pop.items, pop.counts, pop.in_tail)]
    ndcg = np.stack([_ndcg(data, scorers[name], k) for name in names], axis=1)
    table = Exposure(*stack, pop.n_catalogue).table(names, n_boot, seed, ndcg, pop.target)
    cis = np.array([bootstrap_ci(ndcg[:, r], n_boot, seed) for r in range(len(names))]).reshape(-1, 2)
    table.insert(1, f"ndcg@{k}", ndcg.mean(0))
    table.insert(2, f"ndcg@{k} lo", cis[:, 0])
    table.insert(3, f"ndcg@{k} hi", cis[:, 1])
    no_interval = [f"{m} {end}" for m in ("gini", "coverage", "entropy") for end in ("lo", "hi")]  # see bias.py
    return table.drop(columns=no_interval).rename(columns={"coverage": f"coverage@{k}"})


def ranker_scorers(data: EvalData, comparison: RankerComparison,
                   default: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Every ranker `compare_rankers` lists, in its table's order: linear weights (5,) or LambdaRank's scores."""
    linear = {DEFAULTS: default, TUNED: comparison.tuned, **{f"only {s}": {s: 1.0} for s in SIGNALS}}
    out: dict[str, np.ndarray] = {}
    for name in comparison.table["ranker"]:
        if name == LEARNED:
            out[name] = model_scores(comparison.model, data)
        else:
            w = validate_weights(linear[name])
            out[name] = np.array([w[s] for s in SIGNALS])
    return out


def ranker_bias(data: EvalData, comparison: RankerComparison, default: Mapping[str, float], *,
                recency: np.ndarray | None = None, split: str = "test", n_boot: int = 1000,
                seed: int = 0) -> pd.DataFrame:
    """The popularity-bias table of every compared ranker on the `split` sessions; with `recency` (the session
    protocol's (n, C) most-recently-viewed-first scores over all of `data`) that baseline joins last."""
    mask = data.split == split
    held_out = data.rows(mask)
    scorers = ranker_scorers(held_out, comparison, default)
    if recency is not None:
        scorers[RECENCY] = np.asarray(recency)[mask]
    return bias_by_ranker(held_out, scorers, n_boot=n_boot, seed=seed)


def as_records(table: pd.DataFrame, digits: int = 4) -> list[dict]:
    """Rows for a notebook record: rounded, and an empty tercile's NaN as None (JSON has no NaN)."""
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in table.round(digits).to_dict("records")]
