"""Offline evaluation: temporal splits, replayed signals, vectorised metrics and bootstrap CIs.

Every held-out session is scored only with what was known before it started: the trending and
behaviour indexes are replayed event by event in time order, and each session's 50 candidates get
their five signals from that state. Metrics use graded relevance (purchase 1 > add_to_cart 0.6 >
click 0.3) and are computed for thousands of weight vectors at once from the candidates' ranks.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.embedding import DIMENSION
from fincommerce.errors import ValidationError
from fincommerce.offline.session_popularity import PopularityCounter, SessionPopularity
from fincommerce.schema import EVENT_ID, SIGNALS, Interaction
from fincommerce.search.behaviour import BehaviourEvent, BehaviourIndex
from fincommerce.search.features import RAW_FEATURES
from fincommerce.search.query import parse_query
from fincommerce.search.ranking import Candidates, score_candidates
from fincommerce.tracking.events import behaviour_text
from fincommerce.trending.index import TrendingIndex
from fincommerce.workbench import Workbench

log = logging.getLogger(__name__)
METRICS = ("ndcg", "recall", "mrr")


@dataclass
class EvalData:
    """Signals (n, C, 5) and graded gains (n, C) of sessions with at least one conversion.

    `features` (n, C, F) are optional raw per-candidate inputs for the learned ranker, named by
    `feature_names` (see `search.features.RAW_FEATURES`); without them it learns from the signals alone."""

    sessions: pd.DataFrame
    signals: np.ndarray
    gains: np.ndarray
    split: np.ndarray  # "tune" or "test" per session
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    popularity: SessionPopularity | None = None  # candidates as catalogue items, popularity as of each start

    def __post_init__(self) -> None:
        if self.features is not None and self.features.shape[:2] != self.signals.shape[:2]:
            raise ValidationError("features", f"an array of shape {self.signals.shape[:2]} + (F,)", self.features.shape)
        if self.features is not None and len(self.feature_names) != self.features.shape[2]:
            raise ValidationError("feature_names", f"{self.features.shape[2]} names", self.feature_names)

    def subset(self, name: str) -> EvalData:
        return self.rows(self.split == name)

    def rows(self, mask: np.ndarray) -> EvalData:
        sessions = self.sessions[mask].reset_index(drop=True) if self.sessions is not None else None
        features = self.features[mask] if self.features is not None else None
        popularity = self.popularity.rows(mask) if self.popularity is not None else None
        return EvalData(sessions, self.signals[mask], self.gains[mask], self.split[mask], features, self.feature_names,
                        popularity)

    def model_inputs(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """(n, C, 5 + F) signals and raw features, and their names: what the learned ranker trains on."""
        if self.features is None:
            return self.signals.astype(np.float64), tuple(SIGNALS)
        return np.concatenate([self.signals, self.features], axis=2).astype(np.float64), \
            (*SIGNALS, *self.feature_names)


def temporal_split(timestamps: Sequence[float], warmup: float = 0.4, tune: float = 0.3) -> np.ndarray:
    """Label sessions by time: 'history' (only feeds the indexes), then 'tune', then 'test'."""
    t = np.asarray(timestamps, dtype=np.float64)
    cut1, cut2 = np.quantile(t, [warmup, warmup + tune]) if len(t) else (0.0, 0.0)
    return np.where(t < cut1, "history", np.where(t < cut2, "tune", "test"))


def build_eval_data(wb: Workbench, events: pd.DataFrame, sessions: pd.DataFrame, *, warmup: float = 0.4,
                    tune: float = 0.3, show_progress: bool = True,
                    sentences: dict[str, np.ndarray] | None = None) -> EvalData:
    """Replay events in time order; snapshot the five signals at the start of every evaluated session.

    `sentences` ({behaviour sentence: vector}, read from the store when None) is shared by callers that
    replay several simulations, such as the recovery worlds: the store is read once and each new sentence
    embedded once; the ones embedded here are added to it."""
    s = wb.settings
    catalog = wb.product_matrix()
    row_of = {pid: i for i, pid in enumerate(catalog.ids)}
    events = events.sort_values(["timestamp", "event_id"], kind="stable").reset_index(drop=True)
    by_id = catalog.payloads
    vectors = behaviour_vectors(wb, events, row_of, show_progress,
                                stored_sentences(wb) if sentences is None else sentences)
    trending = TrendingIndex.from_settings(s)
    behaviour = BehaviourIndex.from_settings(s)
    brands, cats = wb.vocabulary()
    order = sessions.sort_values(["timestamp", "session_id"], kind="stable").reset_index(drop=True)
    split = temporal_split(order["timestamp"].to_numpy(), warmup, tune)
    parsed = {q: parse_query(q, brands, cats) for q in order["query"].unique()}
    texts = sorted({p.text for p in parsed.values()})
    qvec = dict(zip(texts, wb.embedder.encode(texts)))

    keep, all_signals, all_gains, all_raw = [], [], [], []
    counter = PopularityCounter(len(catalog.ids))
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
            counter.add([row_of[r["product_id"]] for r in rows])
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
        counter.take(idx, [row_of[p] for p in sess.gains])
        cosine = catalog.vectors[idx] @ qvec[q.text]
        pop = trending.popularity(list(sess.candidates), sess.timestamp, trending.window)
        collab, bought = behaviour.collaborative(sess.user_id, list(sess.candidates))
        b_aff, c_aff = behaviour.affinities(sess.user_id)
        cands = Candidates(list(sess.candidates), [by_id[j] for j in idx], cosine, pop, collab, bought, b_aff, c_aff)
        sig, _, _ = score_candidates(cands, q.budget, {b.lower() for b in q.brands}, {c.lower() for c in q.categories},
                                     q.min_price)
        u = behaviour.users.get(sess.user_id)
        raw = trending.scores(sess.timestamp, trending.window)[0] if trending.n_events else np.zeros(1)
        cands.trending_peak = float(raw.max()) if len(raw) else 0.0
        if u is not None:
            cands.user_products, cands.user_purchases = len(behaviour.items[u]), len(behaviour.purchased[u])
        all_raw.append(cands.raw(q.budget).astype(np.float32))
        keep.append(i)
        all_signals.append(sig.astype(np.float32))
        all_gains.append(np.array([sess.gains.get(c, 0.0) for c in sess.candidates], dtype=np.float32))
    kept = order.iloc[keep].reset_index(drop=True)
    n_c = len(order["candidates"].iloc[0]) if len(order) else 0
    return EvalData(kept, np.stack(all_signals) if all_signals else np.zeros((0, n_c, 5), np.float32),
                    np.stack(all_gains) if all_gains else np.zeros((0, n_c), np.float32), split[keep],
                    np.stack(all_raw) if all_raw else np.zeros((0, n_c, len(RAW_FEATURES)), np.float32), RAW_FEATURES,
                    counter.result(n_c))


def behaviour_vectors(wb: Workbench, events: pd.DataFrame, row_of: dict[str, int], show_progress: bool,
                      known: dict[str, np.ndarray]) -> np.ndarray:
    """Each event's behaviour vector from its sentence: `known` ones (the store's) reuse their vector, and
    each new distinct sentence is embedded once and added (so simulated worlds cost only their new texts)."""
    payloads = wb.product_matrix().payloads
    texts = [behaviour_text(Interaction("", "", e.product_id, e.interaction_type, 0.0, 0.0,
                                        e.query if isinstance(e.query, str) else "", p.get("name", ""),
                                        p.get("brand", ""), (), float(p.get("price", 0.0))))
             for e in events.itertuples(index=False) for p in [payloads[row_of[e.product_id]]]]
    if not texts:
        return np.zeros((0, DIMENSION), np.float32)
    missing = sorted({t for t in texts if t not in known})
    if missing:
        known.update(zip(missing, wb.embedder.encode(missing, show_progress=show_progress)))
    return np.stack([known[t] for t in texts]).astype(np.float32)


def stored_sentences(wb: Workbench) -> dict[str, np.ndarray]:
    """{behaviour sentence: stored vector} for every logged event. Payloads are read first and a vector only
    for one event per distinct sentence: a simulated log repeats each sentence about four times."""
    fields = [EVENT_ID, "product_id", "interaction_type", "query", "product_name", "brand", "price"]
    first: dict[str, str] = {}
    for p in wb.events.facts.read(fields=fields):
        i = Interaction("", "", p["product_id"], p["interaction_type"], 0.0, 0.0, p.get("query") or "",
                        p.get("product_name", ""), p.get("brand", ""), (), float(p.get("price") or 0.0))
        first.setdefault(behaviour_text(i), p[EVENT_ID])
    return dict(zip(first, wb.events.vectors(list(first.values()))))


def evaluate(
    data: EvalData, weights: np.ndarray, k: int = 10, chunk: int = 64, threads: int = 2
) -> dict[str, np.ndarray]:
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
    idcg = (ideal / np.log2(np.arange(2, ideal.shape[1] + 2))).sum(1)[sessions]
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
