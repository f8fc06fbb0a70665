"""Every ranker on the next-view protocol's held-out steps, with paired CIs over sessions.

Baselines: popularity (trending as of the step), semantic only (cosine to the context) and co-occurrence
item-kNN (co-viewed with the context in sessions finished before the step); where a baseline scores candidates
equal (no co-views, no trend) the nearer product ranks first. Ours: the seed's weights, the linear weights the
existing grid search (`rankers.grid_best`, NDCG@10 over the tuning split's steps) picks, and LambdaRank trained
on the tuning split, boosted from the tuned linear score as in `rankers.compare_rankers`. Both learn only from
tuning steps whose target the candidate generator retrieved: a target added afterwards is the one candidate
neither near nor trending, and a ranker taught on those would learn to spot the addition, not the next view.
Each step's metric is averaged within its session first, so a long session counts once; the CIs resample
sessions, paired.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fincommerce.config import validate_weights
from fincommerce.offline.analysis import table_fingerprint
from fincommerce.offline.evaluation import bootstrap_ci
from fincommerce.offline.learning import model_scores, train_ranker
from fincommerce.offline.next_view import NextViewProtocol
from fincommerce.offline.rankers import grid_best
from fincommerce.offline.sessions import _scores
from fincommerce.offline.tuning import as_dict
from fincommerce.schema import SIGNALS
from fincommerce.search.learned import LearnedRanker

POPULARITY, SEMANTIC, KNN = "baseline: popularity", "baseline: semantic only", "baseline: co-occurrence kNN"
BASELINES = (POPULARITY, SEMANTIC, KNN)
SEED, TUNED, LEARNED = "seed weights", "tuned linear", "learned (LambdaRank)"
METRICS = ("ndcg@10", "recall@20", "mrr@20")
MIN_TUNE_STEPS = 10  # LambdaRank's floor (`learning.train_ranker`)


@dataclass
class NextViewComparison:
    table: pd.DataFrame  # one row per ranker: metrics with CIs, paired NDCG@10 gain over the strongest baseline
    versus: pd.DataFrame  # tuned linear and LambdaRank against each baseline: paired NDCG@10 gain with its CI
    strongest: str
    tuned: dict[str, float]
    model: LearnedRanker | None
    n_sessions: dict[str, int]
    n_steps: dict[str, int]
    retrieved: float  # share of held-out steps whose target the nearest or the most popular held
    train_seconds: float = 0.0
    protocol: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The values 02 records (JSON-ready)."""
        return {**self.protocol, "n_sessions": self.n_sessions, "n_steps": self.n_steps,
                "retrieved_share": self.retrieved, "strongest_baseline": self.strongest, "tuned_linear": self.tuned,
                "rankers": self.table.round(4).to_dict("records"), "versus": self.versus.round(4).to_dict("records"),
                "model_fingerprint": self.model.fingerprint if self.model is not None else "",
                "table_fingerprint": table_fingerprint(self.table) if len(self.table) else "",
                "train_seconds": self.train_seconds}


def per_session(values: np.ndarray, sessions: np.ndarray) -> np.ndarray:
    """Mean of each session's steps, sessions in order of first appearance."""
    return pd.Series(values).groupby(pd.factorize(sessions)[0]).mean().to_numpy()


def _row(name: str, per: Mapping[str, np.ndarray], n_boot: int, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {"ranker": name}
    for metric, values in per.items():
        lo, hi = bootstrap_ci(values, n_boot, seed)
        row.update({metric: float(values.mean()), f"{metric} lo": lo, f"{metric} hi": hi})
    return row


def _gain(ours: np.ndarray, base: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    lo, hi = bootstrap_ci(ours - base, n_boot, seed)
    return float((ours - base).mean()), lo, hi


def compare_next_view(proto: NextViewProtocol, default: Mapping[str, float], *, step: float = 0.05,
                      n_boot: int = 1000, seed: int = 0, num_threads: int = 2) -> NextViewComparison:
    """The next-view table of `proto` (see the module docstring); an empty table when a split has no step."""
    data, info = proto.data, {"n_targets": proto.n_targets, "n_sessions_with_targets": proto.n_sessions,
                              "n_products": proto.n_products, "candidates": int(proto.data.gains.shape[1]),
                              "skipped": proto.skipped, "notes": proto.notes}
    tune, mask = data.rows((data.split == "tune") & proto.retrieved), data.split == "test"
    test = data.rows(mask)
    sessions = {k: int(pd.Series(data.sessions.session_id[data.split == k]).nunique()) for k in ("tune", "test")}
    counts = {"tune": int((data.split == "tune").sum()), "tune retrieved": len(tune.gains), "test": len(test.gains)}
    d = validate_weights(default)
    seed_w = np.array([d[s] for s in SIGNALS])
    if not counts["tune retrieved"] or not counts["test"]:
        empty = pd.DataFrame(columns=["ranker", *METRICS])
        return NextViewComparison(empty, pd.DataFrame(), "", as_dict(seed_w), None, sessions, counts, 0.0,
                                  protocol=info)
    tuned_w = grid_best(tune, seed_w, step)
    started = time.perf_counter()
    model = train_ranker(tune, seed=seed, num_threads=num_threads, base=as_dict(tuned_w)) \
        if counts["tune retrieved"] >= MIN_TUNE_STEPS else None
    took = time.perf_counter() - started
    one, sig = np.ones((1, 1)), test.signals
    scorers: dict[str, tuple[np.ndarray, np.ndarray]] = {
        POPULARITY: (sig[..., [SIGNALS.index("popularity")]], one),
        SEMANTIC: (sig[..., [SIGNALS.index("semantic")]], one),
        KNN: (proto.cooccurrence[mask][..., None], one),
        SEED: (sig, seed_w[None]), TUNED: (sig, tuned_w[None])}
    if model is not None:
        scorers[LEARNED] = (model_scores(model, test)[..., None].astype(np.float32), one)
    sids = test.sessions.session_id.to_numpy()
    per = {name: {m: per_session(v, sids) for m, v in _scores(test, s, w).items()} for name, (s, w) in scorers.items()}
    strongest = max(BASELINES, key=lambda b: per[b]["ndcg@10"].mean())
    rows = []
    for name, p in per.items():
        g, lo, hi = _gain(p["ndcg@10"], per[strongest]["ndcg@10"], n_boot, seed)
        rows.append({**_row(name, p, n_boot, seed), "gain vs strongest baseline": g, "gain lo": lo, "gain hi": hi})
    versus = [{"ranker": ours, "baseline": b, **dict(zip(("gain", "gain lo", "gain hi"), gain))}
              for ours in (TUNED, LEARNED) if ours in per for b in BASELINES
              for gain in [_gain(per[ours]["ndcg@10"], per[b]["ndcg@10"], n_boot, seed)]]
    return NextViewComparison(pd.DataFrame(rows), pd.DataFrame(versus), strongest, as_dict(tuned_w), model,
                              sessions, counts, float(proto.retrieved[mask].mean()), took, info)
