"""Which ranker to use: seed weights, tuned linear weights, LambdaRank and single signals, on held-out sessions.

`compare_rankers` works on any EvalData (the simulation or real-log sessions): it tunes the linear
weights and trains LambdaRank on the tuning split, scores everything on the held-out split and reports
paired bootstrap CIs of each ranker's gain over the tuned linear weights (the same sessions resampled
for both, so the interval is of the difference itself). LambdaRank is recommended only when that
interval is above 0. The counterfactual check asks whether explanations are causal: remove a result's
top-explained signal and its score must drop.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fincommerce.config import validate_weights
from fincommerce.errors import ValidationError
from fincommerce.offline.analysis import table_fingerprint
from fincommerce.offline.evaluation import EvalData, bootstrap_ci, evaluate
from fincommerce.offline.learning import evaluate_scores, model_scores, train_ranker
from fincommerce.offline.tuning import as_dict, pick_best, simplex_grid
from fincommerce.schema import SIGNALS
from fincommerce.search.features import neutral_effects, neutralise
from fincommerce.search.learned import LearnedRanker

TUNED, DEFAULTS, LEARNED = "tuned linear", "seed defaults", "learned (LambdaRank)"


@dataclass
class RankerComparison:
    table: pd.DataFrame  # one row per ranker: held-out metric, CI, paired gain over tuned linear and its CI
    model: LearnedRanker
    tuned: dict[str, float]
    metric: str
    n_sessions: dict[str, int]
    train_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def recommended(self) -> str:
        """LambdaRank only when its paired gain over the tuned linear weights is above 0 with 95 % confidence."""
        return "learned" if float(self.table.set_index("ranker").loc[LEARNED, "gain_ci_low"]) > 0 else "linear"

    def verdict(self) -> str:
        """The comparison in one sentence."""
        t = self.table.set_index("ranker")
        m, g = f"test_{self.metric}", t.loc[LEARNED]
        winner = ("LambdaRank wins" if g.gain_ci_low > 0 else "the tuned linear weights win" if g.gain_ci_high < 0
                  else "neither wins clearly")
        return (f"On {self.n_sessions['test']:,} held-out sessions LambdaRank scores {self.metric.upper()}@10 "
                f"{g[m]:.4f} and the tuned linear weights {t.loc[TUNED, m]:.4f}: {winner} (paired gain "
                f"{g.gain:+.4f}, 95 % CI [{g.gain_ci_low:+.4f}, {g.gain_ci_high:+.4f}]); "
                f"{'LambdaRank is adopted' if self.recommended == 'learned' else 'the linear formula stays'}.")

    def summary(self) -> dict[str, Any]:
        t = self.table.set_index("ranker")
        return {"recommended_ranker": self.recommended, "verdict": self.verdict(), "tuned_linear": self.tuned,
                "rankers": {r: {k: float(v) for k, v in row.items()} for r, row in t.iterrows()},
                "train_seconds": self.train_seconds, "n_sessions": self.n_sessions,
                "model_fingerprint": self.model.fingerprint, "table_fingerprint": table_fingerprint(self.table),
                **self.extra}


def grid_best(data: EvalData, default: np.ndarray, step: float = 0.05, metric: str = "ndcg", k: int = 10) -> np.ndarray:
    grid = simplex_grid(step)
    return grid[pick_best(evaluate(data, grid, k)[metric].mean(0), grid, default)]


def compare_rankers(data: EvalData, default: Mapping[str, float], *, tuned: Mapping[str, float] | None = None,
                    model: LearnedRanker | None = None, step: float = 0.05, metric: str = "ndcg", k: int = 10,
                    n_boot: int = 1000, seed: int = 0, num_threads: int = 2) -> RankerComparison:
    """The ranker comparison table of any EvalData (see the module docstring)."""
    tune, test = data.subset("tune"), data.subset("test")
    if len(tune.gains) < 10 or len(test.gains) == 0:
        raise ValidationError("sessions", "at least 10 tuning and 1 held-out session with conversions",
                              (len(tune.gains), len(test.gains)))
    d = validate_weights(default)
    seed_w = np.array([d[s] for s in SIGNALS])
    tuned_w = (np.array([validate_weights(tuned)[s] for s in SIGNALS]) if tuned
               else grid_best(tune, seed_w, step, metric, k))
    started = time.perf_counter()
    model = model or train_ranker(tune, seed=seed, num_threads=num_threads, base=as_dict(tuned_w))
    took = time.perf_counter() - started
    linear = {DEFAULTS: seed_w, TUNED: tuned_w,
              **{f"only {s}": np.eye(len(SIGNALS))[i] for i, s in enumerate(SIGNALS)}}
    scores = evaluate(test, np.array(list(linear.values())), k)[metric]
    per_session = {name: scores[:, j] for j, name in enumerate(linear)}
    per_session[LEARNED] = evaluate_scores(test, model_scores(model, test), k)[metric]
    rows = []
    for name in (DEFAULTS, TUNED, LEARNED, *[f"only {s}" for s in SIGNALS]):
        v, gain = per_session[name], per_session[name] - per_session[TUNED]
        lo, hi = bootstrap_ci(v, n_boot, seed)
        glo, ghi = bootstrap_ci(gain, n_boot, seed) if name != TUNED else (0.0, 0.0)
        rows.append({"ranker": name, f"test_{metric}": v.mean(), "ci_low": lo, "ci_high": hi,
                     "gain": gain.mean(), "gain_ci_low": glo, "gain_ci_high": ghi})
    return RankerComparison(pd.DataFrame(rows), model, as_dict(tuned_w), metric,
                            {"tune": len(tune.gains), "test": len(test.gains)}, took)


def linear_scorer(weights: Mapping[str, float]) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(features (m, F) → scores, per-signal effects over neutral) of the linear formula; features start with
    the signals. The effects are what `rank_candidates` explains with."""
    w = np.array([validate_weights(weights)[s] for s in SIGNALS])

    def score(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = x[:, :len(SIGNALS)]
        return s @ w, neutral_effects(s * w, s, SIGNALS, w)
    return score


def learned_scorer(model: LearnedRanker) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(features → raw scores, per-signal effects: TreeSHAP plus the linear base over neutral) of LambdaRank."""
    def score(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total, contrib, _ = model.contributions(x)
        return total, neutral_effects(contrib, x, model.feature_names, model.base)
    return score


def counterfactual_share(data: EvalData, scorer: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                         names: tuple[str, ...], *, top_k: int = 10, n_results: int = 1000,
                         seed: int = 0) -> dict[str, Any]:
    """Share of sampled top-k results whose score drops (and rank does not rise) when their top-explained
    signal — the one the scorer credits most (the first explanation's) — is set to its neutral value; a
    result whose signals are all credited ≤ 0 passes when neutralising the top one does not lower its score."""
    x_all, all_names = data.model_inputs()
    cols = [all_names.index(n) for n in names]
    x_all = x_all[..., cols]
    rng = np.random.default_rng(seed)
    sessions = rng.permutation(len(x_all))[: max(1, -(-n_results // top_k))]
    ok, n, by_signal = 0, 0, {s: [0, 0] for s in SIGNALS}
    for i in sessions:
        x = x_all[i]
        score, contrib = scorer(x)
        order = np.lexsort((np.arange(len(score)), -score))[:top_k]
        for rank, j in enumerate(order):
            top = SIGNALS[int(np.argmax(contrib[j]))]
            changed = x.copy()
            changed[j] = neutralise(x[j], names, top)
            new_score = scorer(changed[j:j + 1])[0][0]
            new_rank = int(np.sum(np.delete(score, j) > new_score))
            good = bool(new_score < score[j] and new_rank >= rank) if contrib[j].max() > 0 else \
                bool(new_score >= score[j])
            ok, n = ok + good, n + 1
            by_signal[top][0] += good
            by_signal[top][1] += 1
    return {"share": ok / max(n, 1), "n_results": n,
            "by_signal": {s: {"share": a / b, "n": b} for s, (a, b) in by_signal.items() if b}}


def explanation_check(data: EvalData, model: LearnedRanker, weights: Mapping[str, float], *, n_results: int = 1000,
                      seed: int = 0) -> dict[str, dict[str, Any]]:
    """The counterfactual check for both rankers on the held-out split (≥ 95 % is the bar)."""
    test = data.subset("test")
    return {
        "linear": counterfactual_share(test, linear_scorer(weights), tuple(SIGNALS), n_results=n_results, seed=seed),
        "learned": counterfactual_share(
            test, learned_scorer(model), model.feature_names, n_results=n_results, seed=seed
        ),
    }
