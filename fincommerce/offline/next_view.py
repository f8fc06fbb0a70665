"""The next-view protocol: at each step of a session, which product will the shopper look at next?

The conversion protocol (`offline.sessions`) asks which viewed product a session carts, and on a real log that
is mostly re-finding. This asks what a shop's "you may also like" must answer: the next product not seen yet.
- Sessions: `offline.sessions.session_ids` (the log's id; where empty, a user's run of events under 30 min apart).
- Steps: every view or click of a product the session has not viewed before, after at least one earlier view.
  The context is the distinct products the session viewed or clicked so far; the target is that product.
- Candidates, C = n_near + n_popular + 1 for every step: the `n_near` products nearest to the context's mean
  MiniLM vector, the `n_popular` most trending as of the step not among them (topped up from the nearest early
  in the log, when fewer products have a score), and one more slot: the target when neither list retrieved it,
  else the next nearest — so neither the candidate count nor an odd one out gives the target away. Products the
  session already viewed are not candidates: the target is new by definition, so they are known negatives.
  Ordered by cosine (ties in any ranker go to the nearer product, as in `evaluation.evaluate`).
- Signals: the five signals, the raw features and `CONTEXT_FEATURES` from `SignalReplay` and `ContextFeatures`,
  fed every event before the step's time (no look-ahead); item-kNN co-occurrence from sessions finished before
  it (`CoOccurrence`, the context features' own). A candidate without a price gets the neutral affordability (a
  missing price is not a cheap one) and no price ratios.
- Split: `evaluation.temporal_split` over the sessions' starts; a session's steps stay in one split.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.config import Settings
from fincommerce.embedding import Embedder
from fincommerce.errors import ValidationError
from fincommerce.logs.replay import CONTEXT_TYPES, EventStream
from fincommerce.offline.context_features import CONTEXT_FEATURES, ContextFeatures
from fincommerce.offline.evaluation import EvalData, temporal_split
from fincommerce.offline.sessions import indexed_events, product_table
from fincommerce.offline.signal_replay import SignalReplay, product_vectors
from fincommerce.schema import SIGNALS
from fincommerce.search.features import RAW_FEATURES
from fincommerce.search.signals import NEUTRAL_AFFORDABILITY

REQUIRED = ("user_id", "product_id", "interaction_type", "timestamp", "name", "brand", "category", "price")
# (time, session id, user, target row, context rows in first-view order, each one's latest view time)
Step = tuple[float, str, str, int, np.ndarray, np.ndarray]


@dataclass
class NextViewProtocol:
    """One EvalData row per evaluated step (gain 1.0 at the target), plus what the rankers beside it need."""

    data: EvalData
    cooccurrence: np.ndarray  # (n, C) co-viewed item-kNN score of each candidate with the context
    retrieved: np.ndarray  # (n,) bool: the nearest or the most popular held the target
    n_products: int
    n_targets: int  # steps in the whole log, the history split's included
    n_sessions: int  # sessions with at least one step
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # sentences on what the log could not give


def next_view_steps(ev: pd.DataFrame) -> tuple[list[Step], dict[str, int]]:
    """Every step of `ev` (`sessions.indexed_events`' table) in time order, and the sessions without one."""
    views = ev[ev["interaction_type"].astype(str).isin(CONTEXT_TYPES)]
    steps: list[Step] = []
    for sid, g in views.groupby("session", sort=False):
        seen: dict[int, float] = {}
        user = str(g["user_id"].iloc[0])
        for r, t in zip(g["row"].tolist(), g["timestamp"].tolist()):
            if r not in seen and seen:
                steps.append((float(t), str(sid), user, int(r), np.fromiter(seen, np.int64, len(seen)),
                              np.fromiter(seen.values(), np.float64, len(seen))))
            seen[r] = float(t)
    steps.sort(key=lambda x: (x[0], x[1]))
    size = ev.groupby("session").size()
    distinct = views.groupby("session")["row"].nunique().reindex(size.index, fill_value=0)
    return steps, {"one-event sessions": int((size == 1).sum()),
                   "sessions with one distinct viewed product or none": int(((size > 1) & (distinct < 2)).sum())}


def _session_notes(events: pd.DataFrame, ev: pd.DataFrame) -> list[str]:
    given = events["session_id"].astype(str) != ""
    if given.any():
        return []
    n_users, n_sessions = ev["user_id"].nunique(), ev["session"].nunique()
    if n_sessions == n_users:
        return [f"The log has no session ids and no 30-minute gaps to split on: each of its {n_users:,} shoppers' "
                "whole history is one session."]
    return [f"The log has no session ids: {n_sessions:,} sessions come from 30-minute gaps in {n_users:,} "
            "shoppers' events."]


def _nearest(cosine: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest cosines, highest first (ties: lower row first)."""
    k = min(k, len(cosine))
    part = np.argpartition(-cosine, k - 1)[:k] if k < len(cosine) else np.arange(len(cosine))
    return part[np.lexsort((part, -cosine[part]))]


def candidates(cosine: np.ndarray, popular: np.ndarray, context: np.ndarray, target: int, n_near: int,
               n_popular: int, size: int) -> tuple[np.ndarray, bool]:
    """(`size` candidate rows ordered by cosine, whether the nearest or the most popular held the target)."""
    masked = cosine.copy()
    masked[context] = -np.inf
    pool = _nearest(masked, size + n_popular + len(context))
    pool = pool[np.isfinite(masked[pool])]
    near = pool[:n_near]
    taken = set(near.tolist()) | set(context.tolist())
    chosen = near.tolist() + [r for r in popular.tolist() if r not in taken][:n_popular]
    chosen = chosen[: size - 1]
    have = set(chosen)
    rest = [r for r in pool.tolist() if r not in have]
    n_fill = size - 1 - len(chosen)
    chosen += rest[:n_fill]
    retrieved = target in chosen
    chosen.append(rest[n_fill] if retrieved else target)
    rows = np.array(chosen, np.int64)
    return rows[np.lexsort((rows, -cosine[rows]))], retrieved


def build_next_view_data(embedder: Embedder, events: pd.DataFrame, settings: Settings | None = None, *,
                         warmup: float = 0.4, tune: float = 0.3, n_near: int = 100, n_popular: int = 50,
                         show_progress: bool = True) -> NextViewProtocol:
    """Replay the log in time order and snapshot every evaluated step's candidates (see the module docstring)."""
    missing = [c for c in REQUIRED if c not in events]
    if missing:
        raise ValidationError("events", f"an event table with columns {', '.join(REQUIRED)}", f"missing {missing}")
    if "session_id" not in events:
        events = events.assign(session_id="")
    ev, last = indexed_events(events)
    products = product_table(last)
    no_price = ~(pd.to_numeric(last["price"], errors="coerce").to_numpy(dtype=np.float64) > 0)
    steps, skipped = next_view_steps(ev)
    notes = _session_notes(events, ev)
    widest = max((len(x[4]) for x in steps), default=0)
    size = min(n_near + n_popular + 1, len(products) - widest)
    if size < 2:
        skipped["steps (too few products beside the context to rank)"] = len(steps)
        notes.append(f"No step to evaluate: {len(steps):,} steps, {len(products):,} products.")
        steps = []
    starts = ev.groupby("session")["timestamp"].min()
    sids = list(dict.fromkeys(x[1] for x in steps))
    split_of = dict(zip(sids, temporal_split(starts.loc[sids].to_numpy(), warmup, tune))) if sids else {}

    matrix = product_vectors(embedder, products, show_progress) if steps else np.zeros((len(products), 0))
    context_features = ContextFeatures(len(products), products.price.to_numpy(), last.category, products.brand)
    cooc = context_features.cooccurrence
    replay = SignalReplay(settings or Settings(), products, matrix, [context_features])
    stream = EventStream([(ev["timestamp"].to_numpy(), ev["row"].to_numpy(),
                           ev["interaction_type"].astype(str).to_numpy(), ev["user_id"].astype(str).to_numpy())])
    prices = products["price"].to_numpy(dtype=np.float64)
    afford, ratio = SIGNALS.index("affordability"), RAW_FEATURES.index("price_to_budget")
    rows, signals, features, gains, knn, retrieved, keep = [], [], [], [], [], [], []
    skipped["candidate slots without a price (neutral affordability)"] = 0
    for t, sid, user, target, context, times in tqdm(steps, desc="Replaying steps", disable=not show_progress):
        replay.feed(stream.before(t))
        if split_of[sid] == "history":
            continue
        query = matrix[context].mean(0)
        cosine = matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
        popular = replay.most_popular(t, n_near + n_popular + len(context))
        cands, hit = candidates(cosine, popular, context, target, n_near, n_popular, size)
        priced = prices[context][~no_price[context]]
        budget = float(priced.max()) if len(priced) else None
        sig, raw = replay.signals(user, cands.tolist(), cosine[cands], t, budget)
        unpriced = no_price[cands]
        sig[unpriced, afford], raw[unpriced, ratio] = NEUTRAL_AFFORDABILITY, np.nan
        skipped["candidate slots without a price (neutral affordability)"] += int(unpriced.sum())
        replay.counter.take(cands, [target])
        rows.append({"timestamp": t, "session_id": sid, "user_id": user, "target": replay.product_ids[target],
                     "candidates": replay.product_ids[cands].tolist()})
        signals.append(sig)
        features.append(np.hstack([raw, context_features.compute(user, context, times, cands, t)]).astype(np.float32))
        gains.append((cands == target).astype(np.float32))
        knn.append(cooc.scores(context.tolist(), cands.tolist())[0].astype(np.float32))  # closed by compute
        retrieved.append(hit)
        keep.append(split_of[sid])
    c, names = max(size, 0), (*RAW_FEATURES, *CONTEXT_FEATURES)
    data = EvalData(pd.DataFrame(rows, columns=["timestamp", "session_id", "user_id", "target", "candidates"]),
                    np.stack(signals) if signals else np.zeros((0, c, len(SIGNALS)), np.float32),
                    np.stack(gains) if gains else np.zeros((0, c), np.float32), np.array(keep, dtype="<U7"),
                    np.stack(features) if features else np.zeros((0, c, len(names)), np.float32), names,
                    replay.counter.result(c))
    return NextViewProtocol(data, np.stack(knn) if knn else np.zeros((0, c), np.float32), np.array(retrieved, bool),
                            len(products), len(steps), len(sids), skipped, notes)
