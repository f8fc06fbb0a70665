"""A ranking evaluation for real logs without queries: the session protocol.

- Sessions: the log's `session_id`, or, where it is empty, a user's events with gaps under 30 minutes.
  Evaluated: sessions with at least one add-to-cart or purchase after at least one view or click.
- Context: the session's views and clicks before its first cart/purchase. It stands in for the query:
  its mean product vector is the "query vector", and the dearest product viewed is the budget it revealed.
- Candidates: the viewed products plus the products nearest to the context (cosine over the product
  vectors of the log's catalogue), 50 in all, ordered by cosine.
- Gains: the session's carted (0.6) and purchased (1.0) products, graded as in the simulation.
- Every other signal comes from the events before the session's start (trending, look-alikes,
  preferences replayed in time order: no look-ahead); the temporal split is the tuning notebook's.
- The learned ranker also sees `CONTEXT_FEATURES` as of the ranking moment, just before the first conversion:
  the replay up to the start plus the context's own views (their last times), nothing at or after it.
Each distinct product text is embedded once; a shopper's look-alike vector sums the vectors of the
products they touched (a real log's "user viewed X price P" sentences differ only by product, so this
keeps the signal and halves the embedding work).
A log too big for pandas arrives as a `SessionLog` the engine built (`logs.sessions`): the same sessions,
products and replayed events, equal to this module's pandas path (tests/test_logs_engine.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.config import Settings
from fincommerce.embedding import Embedder
from fincommerce.logs.replay import CONTEXT_TYPES, GAINS, SESSION_GAP_SECONDS, EventStream, SessionLog
from fincommerce.offline.context_features import CONTEXT_FEATURES, ContextFeatures
from fincommerce.offline.context_linear import linear_inputs
from fincommerce.offline.evaluation import EvalData, bootstrap_ci, evaluate, temporal_split
from fincommerce.offline.learning import model_scores
from fincommerce.offline.rankers import LEARNED
from fincommerce.offline.signal_replay import SignalReplay, product_vectors
from fincommerce.search.features import RAW_FEATURES
from fincommerce.search.learned import LearnedRanker

RECENCY = "baseline: most recently viewed first"


@dataclass
class SessionProtocol:
    """The evaluation data, plus the most-recently-viewed-first baseline's scores (n, C)."""

    data: EvalData
    recency: np.ndarray
    n_products: int
    n_sessions_in_log: int


def session_ids(events: pd.DataFrame) -> pd.Series:
    """The log's session ids; where empty, one session per user and run of events 30 minutes apart."""
    given = events["session_id"].astype(str)
    ev = events.assign(_user=events["user_id"].astype(str)).sort_values(["_user", "timestamp"], kind="stable")
    new = (ev["_user"] != ev["_user"].shift()) | (ev["timestamp"].diff() > SESSION_GAP_SECONDS)
    derived = ("gap:" + ev["_user"] + ":" + new.groupby(ev["_user"]).cumsum().astype(str)).reindex(events.index)
    return given.where(given != "", derived)


def product_table(last: pd.DataFrame) -> pd.DataFrame:
    """One row per product (its newest attributes, `SessionLog.products`) with the text the embedder reads."""
    last = last.astype({c: str for c in ("product_id", "name", "brand", "category")})
    cats = last["category"].map(lambda c: [x for x in c.split(" > ") if x])
    text = [
        ". ".join(p for p in (n or pid, b, c) if p)
        for pid, n, b, c in zip(last.product_id, last.name, last.brand, last.category)
    ]
    return pd.DataFrame(
        {
            "product_id": last.product_id.to_numpy(),
            "name": last.name.to_numpy(),
            "brand": last.brand.to_numpy(),
            "categories": cats.to_numpy(),
            "price": last.price.fillna(0.0).to_numpy(),
            "text": text,
        }
    )


def indexed_events(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events in time order with `session` and product `row`, each product's newest attributes by row)."""
    ev = events.assign(session=session_ids(events)).sort_values("timestamp", kind="stable").reset_index(drop=True)
    last = ev.drop_duplicates("product_id", keep="last")[["product_id", "name", "brand", "category", "price"]]
    row_of = {pid: i for i, pid in enumerate(last.product_id.astype(str))}
    ev["row"] = ev["product_id"].astype(str).map(row_of).to_numpy()
    return ev, last


def session_log(events: pd.DataFrame) -> SessionLog:
    """The pandas path of `SessionLog` (`logs.sessions.session_log` is the engine's): the whole table in memory."""
    ev, last = indexed_events(events)
    sessions = []
    for sid, g in ev.groupby("session", sort=False):
        kinds = g["interaction_type"].astype(str).to_numpy()
        converted = np.flatnonzero(np.isin(kinds, list(GAINS)))
        if not len(converted):
            continue
        context = g.iloc[: converted[0]]
        context = context[context["interaction_type"].astype(str).isin(CONTEXT_TYPES)]
        if context.empty:
            continue
        gains: dict[int, float] = {}
        for r, k in zip(g["row"].iloc[converted], kinds[converted]):
            gains[r] = max(gains.get(r, 0.0), GAINS[k])
        viewed = list(dict.fromkeys(context["row"][::-1]))
        seen = context.groupby("row")["timestamp"].max()
        sessions.append((float(g["timestamp"].iloc[0]), str(sid), str(g["user_id"].iloc[0]), viewed, gains,
                         [float(seen[r]) for r in viewed], float(g["timestamp"].iloc[converted[0]])))
    sessions.sort(key=lambda x: (x[0], x[1]))
    page = (ev["timestamp"].to_numpy(), ev["row"].to_numpy(), ev["interaction_type"].astype(str).to_numpy(),
            ev["user_id"].astype(str).to_numpy())
    return SessionLog(last.reset_index(drop=True), sessions, EventStream([page]))


def build_session_data(embedder: Embedder, events: pd.DataFrame | SessionLog, settings: Settings | None = None, *,
                       warmup: float = 0.4, tune: float = 0.3, n_candidates: int = 50,
                       show_progress: bool = True) -> SessionProtocol:
    """Replay the log in time order and snapshot the five signals at the start of every evaluated session.
    `events`: an event table, or a log the engine read (`logs.sessions.session_log`)."""
    s = settings or Settings()
    log = events if isinstance(events, SessionLog) else session_log(events)
    products, sessions = product_table(log.products), log.sessions
    n_candidates = min(n_candidates, len(products))
    matrix = product_vectors(embedder, products, show_progress)
    split = temporal_split([x[0] for x in sessions], warmup, tune)
    context = ContextFeatures(len(products), products.price.to_numpy(), log.products.category, products.brand)
    replay = SignalReplay(s, products, matrix, [context])
    payloads, counter = replay.payloads, replay.counter
    keep, signals, gain_rows, recency, shown, features = [], [], [], [], [], []
    for i, (start, _sid, user, viewed, gains, seen, moment) in enumerate(tqdm(sessions, desc="Replaying sessions",
                                                                             disable=not show_progress)):
        replay.feed(log.events.before(start))
        if split[i] == "history":
            continue
        query = matrix[viewed].mean(0)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        cosine_all = matrix @ query
        near = np.argsort(-cosine_all, kind="stable")[: n_candidates + len(viewed)]
        cands = list(dict.fromkeys([*viewed[:n_candidates], *near]))[:n_candidates]
        cands.sort(key=lambda r: -cosine_all[r])
        counter.take(cands, list(gains))
        pids = [payloads[r]["product_id"] for r in cands]
        budget = max(float(payloads[r]["price"]) for r in viewed) or None
        sig, raw = replay.signals(user, cands, cosine_all[cands], start, budget)
        features.append(np.hstack([raw, context.compute(user, viewed, seen, cands, moment)]).astype(np.float32))
        order = {r: n for n, r in enumerate(viewed)}  # 0 = the most recent view
        keep.append(i)
        shown.append(pids)
        signals.append(sig)
        gain_rows.append(np.array([gains.get(r, 0.0) for r in cands], dtype=np.float32))
        recency.append(np.array([1.0 / (1 + order[r]) if r in order else 0.0 for r in cands], dtype=np.float32))
    frame = pd.DataFrame([{"timestamp": sessions[i][0], "session_id": sessions[i][1], "user_id": sessions[i][2],
                           "candidates": c} for i, c in zip(keep, shown)])
    n_c, names = n_candidates, (*RAW_FEATURES, *CONTEXT_FEATURES)
    data = EvalData(frame, np.stack(signals) if signals else np.zeros((0, n_c, 5), np.float32),
                    np.stack(gain_rows) if gain_rows else np.zeros((0, n_c), np.float32), split[keep],
                    np.stack(features) if features else np.zeros((0, n_c, len(names)), np.float32), names,
                    counter.result(n_c))
    return SessionProtocol(data, np.stack(recency) if recency else np.zeros((0, n_c), np.float32),
                           len(products), len(sessions))


def _scores(data: EvalData, signals: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Per-session NDCG@10, recall@20 and MRR@20 of one scorer."""
    view = EvalData(data.sessions, signals, data.gains, data.split)
    at10, at20 = evaluate(view, weights, k=10), evaluate(view, weights, k=20)
    mrr = at20["mrr"][:, 0]
    return {
        "ndcg@10": at10["ndcg"][:, 0],
        "recall@20": at20["recall"][:, 0],
        "mrr@20": np.where(mrr >= 1 / 20, mrr, 0.0),
    }


def protocol_table(proto: SessionProtocol, weights: Mapping[str, Mapping[str, float]], *, split: str = "test",
                   n_boot: int = 1000, seed: int = 0, learned: LearnedRanker | None = None) -> pd.DataFrame:
    """Held-out metrics with 95 % bootstrap CIs for named weight sets, the learned ranker when given and the
    most-recently-viewed baseline, and each one's paired NDCG@10 gain over the first set (the seed's weights)
    and over that baseline (issue 27's bar). A weight set may add context signals
    (`context_linear.LINEAR_CONTEXT`), weight 0 unless named."""
    mask = proto.data.split == split
    data = proto.data.rows(mask)
    scorers = {name: linear_inputs(data.signals, data.features, data.feature_names, w) for name, w in weights.items()}
    if learned is not None:
        scorers[LEARNED] = (model_scores(learned, data)[..., None], np.ones((1, 1)))
    scorers[RECENCY] = (proto.recency[mask][..., None], np.ones((1, 1)))
    per = {name: _scores(data, sig, w) for name, (sig, w) in scorers.items()}
    first, recency = next(iter(per.values()))["ndcg@10"], per[RECENCY]["ndcg@10"]
    rows = []
    for name, m in per.items():
        row = {"ranker": name}
        for metric, values in m.items():
            lo, hi = bootstrap_ci(values, n_boot, seed)
            row.update({metric: values.mean(), f"{metric} lo": lo, f"{metric} hi": hi})
        for label, base in (("first", first), ("recency", recency)):
            gain = m["ndcg@10"] - base
            lo, hi = bootstrap_ci(gain, n_boot, seed)
            row.update({f"gain vs {label}": gain.mean(), f"gain vs {label} lo": lo, f"gain vs {label} hi": hi})
        rows.append(row)
    return pd.DataFrame(rows)
