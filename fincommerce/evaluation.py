"""Offline evaluation and weight tuning: temporal splits, vectorised metrics, CIs, baselines.

Every held-out session is scored only with what was known before it started: the trending and
behaviour indexes are replayed event by event in time order, and each session's 50 candidates get
their five signals from that state. Metrics use graded relevance (purchase 1 > add_to_cart 0.6 >
click 0.3) and are computed for thousands of weight vectors at once from the candidates' ranks.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.behaviour import BehaviourEvent, BehaviourIndex
from fincommerce.config import DAY, HOUR, validate_weights
from fincommerce.popularity import TrendingIndex
from fincommerce.query import parse_query
from fincommerce.ranking import Candidates, score_candidates
from fincommerce.schema import INTERACTION_TYPES, SIGNALS

if TYPE_CHECKING:
    from fincommerce.workbench import Workbench

log = logging.getLogger(__name__)
METRICS = ("ndcg", "recall", "mrr")


@dataclass
class EvalData:
    """Signals (n, C, 5) and graded gains (n, C) of sessions with at least one conversion."""

    sessions: pd.DataFrame
    signals: np.ndarray
    gains: np.ndarray
    split: np.ndarray  # "tune" or "test" per session

    def subset(self, name: str) -> "EvalData":
        return self.rows(self.split == name)

    def rows(self, mask: np.ndarray) -> "EvalData":
        sessions = self.sessions[mask].reset_index(drop=True) if self.sessions is not None else None
        return EvalData(sessions, self.signals[mask], self.gains[mask], self.split[mask])


def temporal_split(timestamps: Sequence[float], warmup: float = 0.4, tune: float = 0.3) -> np.ndarray:
    """Label sessions by time: 'history' (only feeds the indexes), then 'tune', then 'test'."""
    t = np.asarray(timestamps, dtype=np.float64)
    cut1, cut2 = np.quantile(t, [warmup, warmup + tune]) if len(t) else (0.0, 0.0)
    return np.where(t < cut1, "history", np.where(t < cut2, "tune", "test"))


def build_eval_data(wb: "Workbench", events: pd.DataFrame, sessions: pd.DataFrame, *, warmup: float = 0.4,
                    tune: float = 0.3, show_progress: bool = True) -> EvalData:
    """Replay events in time order; snapshot the five signals at the start of every evaluated session."""
    s = wb.settings
    catalog = wb.product_matrix()
    row_of = {pid: i for i, pid in enumerate(catalog.ids)}
    events = events.sort_values(["timestamp", "event_id"], kind="stable").reset_index(drop=True)
    vectors = _event_vectors(wb, events["event_id"].tolist())
    by_id = catalog.payloads
    trending = TrendingIndex(s.interaction_weights, {t: s.half_life_seconds(t) for t in INTERACTION_TYPES},
                             s.trending_window_hours * HOUR)
    behaviour = BehaviourIndex(s.interaction_weights, s.half_life_hours * HOUR, s.behaviour_window_days * DAY)
    brands, cats = wb.vocabulary()
    order = sessions.sort_values(["timestamp", "session_id"], kind="stable").reset_index(drop=True)
    split = temporal_split(order["timestamp"].to_numpy(), warmup, tune)
    parsed = {q: parse_query(q, brands, cats) for q in order["query"].unique()}
    texts = sorted({p.text for p in parsed.values()})
    qvec = dict(zip(texts, wb.embedder.encode(texts)))

    keep, all_signals, all_gains = [], [], []
    cursor = 0
    ev = events.to_dict("records")
    for i, sess in enumerate(tqdm(order.itertuples(index=False), total=len(order), desc="Replaying sessions",
                                  disable=not show_progress)):
        new = []
        while cursor < len(ev) and ev[cursor]["timestamp"] < sess.timestamp:
            new.append(cursor)
            cursor += 1
        if new:
            rows = [ev[j] for j in new]
            payloads = [by_id[row_of[r["product_id"]]] for r in rows]
            trending.add([r["timestamp"] for r in rows], [r["product_id"] for r in rows],
                         [r["interaction_type"] for r in rows], [p.get("categories") or [] for p in payloads])
            behaviour.add(BehaviourEvent(r["user_id"], r["product_id"], r["interaction_type"], r["timestamp"],
                                         p.get("brand", ""), p.get("categories") or [], vectors[j])
                          for r, p, j in zip(rows, payloads, new))
        if split[i] == "history" or not sess.gains:
            continue
        q = parsed[sess.query]
        idx = [row_of[c] for c in sess.candidates]
        cosine = catalog.vectors[idx] @ qvec[q.text]
        pop = trending.popularity(list(sess.candidates), sess.timestamp, trending.window)
        collab, bought = behaviour.collaborative(sess.user_id, list(sess.candidates))
        b_aff, c_aff = behaviour.affinities(sess.user_id)
        cands = Candidates(list(sess.candidates), [by_id[j] for j in idx], cosine, pop, collab, bought, b_aff, c_aff)
        sig, _, _ = score_candidates(cands, q.budget, {b.lower() for b in q.brands}, {c.lower() for c in q.categories})
        keep.append(i)
        all_signals.append(sig.astype(np.float32))
        all_gains.append(np.array([sess.gains.get(c, 0.0) for c in sess.candidates], dtype=np.float32))
    kept = order.iloc[keep].reset_index(drop=True)
    n_c = len(order["candidates"].iloc[0]) if len(order) else 0
    return EvalData(kept, np.stack(all_signals) if all_signals else np.zeros((0, n_c, 5), np.float32),
                    np.stack(all_gains) if all_gains else np.zeros((0, n_c), np.float32), split[keep])


def _event_vectors(wb: "Workbench", event_ids: list[str]) -> np.ndarray:
    from fincommerce.workbench import event_point_id

    out = np.zeros((len(event_ids), wb.embedder.dimension), dtype=np.float32)
    pos = {event_point_id(e): i for i, e in enumerate(event_ids)}
    ids = list(pos)
    for start in range(0, len(ids), 1024):
        for r in wb.store.retrieve(wb.interactions, ids[start:start + 1024], with_vectors=True):
            out[pos[r.id]] = r.vector
    return out


def simplex_grid(step: float = 0.05, n: int = len(SIGNALS)) -> np.ndarray:
    """Every weight vector with entries on multiples of `step` summing to 1 (step 0.05 → 10,626)."""
    parts = round(1 / step)
    if not np.isclose(parts * step, 1.0):
        raise ValueError(f"grid_step: expected 1/k for an integer k, got {step}")
    rows = []
    for bars in combinations(range(parts + n - 1), n - 1):
        edges = (-1, *bars, parts + n - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(n)])
    return np.array(rows, dtype=np.float64) / parts


def evaluate(data: EvalData, weights: np.ndarray, k: int = 10, chunk: int = 64, threads: int = 2) -> dict[str, np.ndarray]:
    """Per-session NDCG@k, recall@k and MRR for each weight vector: arrays of shape (n_sessions, m).

    Only the few converted candidates per session need a rank: the number of candidates scoring
    higher. Scores within 1e-7 count as ties and go to the earlier (semantically closer) candidate;
    folding that tie-break into the score difference keeps it to one matrix product and one comparison.
    Chunks of weight vectors run on `threads` threads (numpy releases the GIL in both).
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float32))
    n, c, n_sig = data.signals.shape
    ps, pc = np.nonzero(data.gains > 0)  # row-major: pairs are grouped by session
    gain = data.gains[ps, pc].astype(np.float64)
    sessions, starts = np.unique(ps, return_index=True)
    n_rel = np.diff(np.append(starts, len(ps)))
    ideal = -np.sort(-data.gains, axis=1)[:, :k].astype(np.float64)
    idcg = (ideal / np.log2(np.arange(2, k + 2))).sum(1)[sessions]
    earlier = (np.arange(c)[None, :] < pc[:, None]).astype(np.float32)[:, :, None] * np.float32(1e-7)
    n_pairs = len(ps)
    diff = np.concatenate([data.signals[ps] - data.signals[ps, pc][:, None, :], earlier], axis=2)
    diff = diff.reshape(n_pairs * c, n_sig + 1)  # one GEMM per chunk
    ends = starts + n_rel
    out = {m: np.zeros((n, len(w))) for m in METRICS}

    def segment_sum(x: np.ndarray) -> np.ndarray:  # (m, P) → (m, sessions), via cumulative sums
        cs = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x, axis=1)], axis=1)
        return cs[:, ends] - cs[:, starts]

    def run(start: int) -> None:
        wc = np.concatenate([w[start:start + chunk], np.ones((len(w[start:start + chunk]), 1), np.float32)], axis=1)
        rank = np.count_nonzero((diff @ wc.T).reshape(n_pairs, c, len(wc)) > 0, axis=1).T  # (m, P)
        hit = rank < k
        best = np.full((len(wc), len(sessions)), np.iinfo(rank.dtype).max)
        for j in range(int(n_rel.max(initial=0))):
            has = n_rel > j
            best[:, has] = np.minimum(best[:, has], rank[:, starts[has] + j])
        sl = slice(start, start + len(wc))
        out["ndcg"][sessions, sl] = (segment_sum(np.where(hit, gain / np.log2(rank + 2), 0.0)) / idcg).T
        out["recall"][sessions, sl] = (segment_sum(hit.astype(np.float64)) / n_rel).T
        out["mrr"][sessions, sl] = (1.0 / (best + 1)).T

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(run, range(0, len(w), chunk)))
    return out


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the mean over sessions (resampling sessions)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def as_dict(w: Sequence[float]) -> dict[str, float]:
    return {s: round(float(x), 6) for s, x in zip(SIGNALS, w)}


def learned_weights(data: EvalData, seed: int = 0) -> np.ndarray:
    """A scikit-learn comparison: logistic regression of "converted" on the signals, coefficients ≥ 0."""
    from sklearn.linear_model import LogisticRegression

    x = data.signals.reshape(-1, len(SIGNALS))
    g = data.gains.reshape(-1)
    model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
    model.fit(x, (g > 0).astype(int), sample_weight=np.where(g > 0, g / g[g > 0].mean(), 1.0))
    coef = np.clip(model.coef_[0], 0, None)
    return coef / coef.sum() if coef.sum() > 0 else np.full(len(SIGNALS), 1 / len(SIGNALS))


@dataclass
class TuningResult:
    grid: np.ndarray
    tune_scores: np.ndarray  # mean metric per grid vector on the tuning split
    best: np.ndarray
    table: pd.DataFrame  # named weight sets on the test split, with CIs
    metric: str
    gain_ci: tuple[float, float]  # 2-fold cross-validated CI of (grid search − defaults) on the tuning split

    def best_weights(self) -> dict[str, float]:
        return as_dict(self.best)

    @property
    def recommended(self) -> str:
        """Keep the seed's defaults unless grid search, judged on sessions it did not see, beats them."""
        return "tuned" if self.gain_ci[0] > 0 else "seed defaults"

    def recommended_weights(self) -> dict[str, float]:
        row = self.table.set_index("weights").loc[self.recommended]
        return as_dict([row[s] for s in SIGNALS])


def tune_weights(data: EvalData, default: Mapping[str, float], *, step: float = 0.05, metric: str = "ndcg",
                 k: int = 10, n_boot: int = 1000, seed: int = 0) -> TuningResult:
    """Grid-search the simplex on the tuning split; report every contender on the held-out split."""
    if metric not in METRICS:
        raise ValueError(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    tune_data, test_data = data.subset("tune"), data.subset("test")
    if len(tune_data.gains) == 0 or len(test_data.gains) == 0:
        raise ValueError("not enough sessions with conversions to tune and test; simulate more users or days")
    grid = simplex_grid(step)
    tune_scores = evaluate(tune_data, grid, k)[metric].mean(0)
    best = grid[int(np.argmax(tune_scores))]
    d = validate_weights(default)
    contenders: dict[str, np.ndarray] = {"tuned": best, "seed defaults": np.array([d[s] for s in SIGNALS]),
                                         "learned (logistic regression)": learned_weights(tune_data, seed)}
    for i, s in enumerate(SIGNALS):
        contenders[f"only {s}"] = np.eye(len(SIGNALS))[i]
    for i, s in enumerate(SIGNALS):
        w = contenders["seed defaults"].copy()
        w[i] = 0.0
        contenders[f"defaults without {s}"] = w / w.sum()
    names = list(contenders)
    matrix = np.array([contenders[n] for n in names])
    test = evaluate(test_data, matrix, k)
    tune = evaluate(tune_data, matrix, k)
    gain_ci = bootstrap_ci(_cross_validated_gain(tune_data, grid, contenders["seed defaults"], metric, k), n_boot, seed)
    rows = []
    for j, name in enumerate(names):
        lo, hi = bootstrap_ci(test[metric][:, j], n_boot, seed)
        rows.append({"weights": name, **as_dict(matrix[j]), f"tune_{metric}": tune[metric][:, j].mean(),
                     **{f"test_{m}": test[m][:, j].mean() for m in METRICS}, "ci_low": lo, "ci_high": hi})
    return TuningResult(grid, tune_scores, best, pd.DataFrame(rows), metric, gain_ci)


def _cross_validated_gain(data: EvalData, grid: np.ndarray, default: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Per-session gain over the defaults of the weights grid search picks on the *other* half (by time).

    The best of 10,626 vectors always looks better on the sessions it was picked on; this estimate does not.
    """
    first = np.arange(len(data.gains)) < len(data.gains) // 2
    gains = np.zeros(len(data.gains))
    for pick, judge in ((first, ~first), (~first, first)):
        best = grid[int(np.argmax(evaluate(data.rows(pick), grid, k)[metric].mean(0)))]
        scores = evaluate(data.rows(judge), np.vstack([best, default]), k)[metric]
        gains[judge] = scores[:, 0] - scores[:, 1]
    return gains


def save_weights(path: str | Path, weights: Mapping[str, float], **metadata: Any) -> Path:
    """The file `search_products(weights=path)` and `fincommerce search --weights` read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"weights": dict(weights), **metadata}, indent=2, default=float))
    return path
