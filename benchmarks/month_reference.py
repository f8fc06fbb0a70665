"""Brute-force references for bench-month, computed from the generated Parquet log, not from the store.

Trending: `top_from_events` over the raw events of the window. Behaviour (collaborative and preference):
every user's decayed behaviour vector Σ w·2^((t−now)/h)·v over the 7-day window as one sparse product,
look-alikes and affinities by the formulas `BehaviourIndex` documents; the event vectors are the model's
embedding of each event's behaviour sentence (one per distinct product and type).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import scipy.sparse as sp

from fincommerce import Workbench
from fincommerce.config import DAY, HOUR
from fincommerce.search.behaviour import LOOKALIKE_FLOOR, NEIGHBOURS
from fincommerce.tracking.events import behaviour_text, build_interaction
from fincommerce.tracking.importers import product_from_log
from fincommerce.tracking.rees46 import EVENT_TYPE_MAP
from fincommerce.trending import top_from_events


def window(log: Path, start: float, stop: float) -> pd.DataFrame:
    """The raw events with start <= t <= stop, REES46 columns, t as float seconds."""
    t = ds.field("event_time")
    table = ds.dataset(log, format="parquet").to_table(filter=(t >= pd.Timestamp(start, unit="s", tz="UTC"))
                                                       & (t <= pd.Timestamp(stop, unit="s", tz="UTC")))
    df = table.to_pandas().drop_duplicates()  # the importer stores an event repeated to the second once
    df["t"] = df["event_time"].astype("int64") / 1e6
    df["type"] = df["event_type"].map(EVENT_TYPE_MAP)
    for c in ("product_id", "user_id"):
        df[c] = df[c].astype(str)
    return df


def products(df: pd.DataFrame) -> dict[str, dict]:
    rows = df.drop_duplicates("product_id", keep="last")[["product_id", "category_id", "category_code", "brand",
                                                           "price"]]
    rows = rows.astype({"category_id": str}).replace({np.nan: None})
    return {r["product_id"]: product_from_log(r) for r in rows.to_dict("records")}


def trending_error(wb: Workbench, log: Path, now: float, category: str | None = None, hours: float = 24) -> float:
    """Largest relative error of the workbench's top 10 against brute force (ids must match exactly)."""
    df = window(log, now - hours * HOUR, now)
    cats = None
    if category is not None:
        meta = products(df)
        cats = [meta[p]["categories"] for p in df["product_id"]]
    want = top_from_events(df["t"].to_numpy(), df["product_id"].tolist(), df["type"].tolist(), cats, now,
                           hours * HOUR, wb.trending.weights, wb.trending.half_lives, 10, category)
    got = wb.get_top_interacted_products(hours, 10, now=now, category=category)
    if [r["product_id"] for r in got] != [r["product_id"] for r in want]:
        return float("inf")
    return max((abs(a["raw_score"] - b["raw_score"]) / b["raw_score"] for a, b in zip(got, want)), default=0.0)


def behaviour_errors(wb: Workbench, log: Path, now: float, n_users: int, seed: int) -> dict[str, float]:
    """Max |difference| of collaborative scores, purchased shares and brand/category affinities against the
    reference, over `n_users` sampled users (half with a cart or purchase, so preferences are not empty)."""
    s = wb.settings
    df = window(log, now - s.behaviour_window_days * DAY, now)
    meta = products(df)
    weights = s.interaction_weights
    keys = df[["product_id", "type"]].drop_duplicates()
    texts = [behaviour_text(build_interaction(weights, "u", meta[p], k, timestamp=0.0, event_id="e", now=now))
             for p, k in keys.itertuples(index=False)]
    text_of = dict(zip(zip(keys["product_id"], keys["type"]), range(len(texts))))
    vectors = wb.embedder.encode(texts).astype(np.float64)
    users, u_idx = np.unique(df["user_id"].to_numpy(), return_inverse=True)
    c = df["type"].map(weights).to_numpy() * np.exp2((df["t"].to_numpy() - now) / (s.half_life_hours * HOUR))
    col = np.fromiter((text_of[k] for k in zip(df["product_id"], df["type"])), np.int64, count=len(df))
    user_vec = sp.csr_matrix((c, (u_idx, col)), shape=(len(users), len(texts))) @ vectors
    norms = np.linalg.norm(user_vec, axis=1, keepdims=True)
    unit = np.divide(user_vec, norms, out=np.zeros_like(user_vec), where=norms > 0)
    top_w = max(weights.values())
    df["w"] = df["type"].map(weights) / top_w
    strongest = df.groupby(["user_id", "product_id"])["w"].max()
    bought = set(zip(df.loc[df["type"] == "purchase", "user_id"], df.loc[df["type"] == "purchase", "product_id"]))
    rng = np.random.default_rng(seed)
    active = df.loc[df["type"] != "view", "user_id"].unique()
    picked = list(rng.choice(active, min(len(active), n_users // 2), replace=False))
    picked += list(rng.choice(users, n_users - len(picked), replace=False))
    index = wb.ensure_behaviour(now)
    err = {"collaborative": 0.0, "purchased share": 0.0, "preference": 0.0}
    for user in picked:
        u = int(np.searchsorted(users, user))
        sims = unit @ unit[u]
        sims[u] = -np.inf
        above = [v for v in np.flatnonzero(sims > LOOKALIKE_FLOOR)]
        top = sorted(above, key=lambda v: (-round(float(sims[v]), 12), users[v]))[:NEIGHBOURS]
        candidates = sorted(set(strongest.loc[users[top]].index.get_level_values(1)) if top else set()
                            | set(rng.choice(df["product_id"].to_numpy(), 20)))
        want, want_b = np.zeros(len(candidates)), np.zeros(len(candidates))
        total = float(sum(sims[v] - LOOKALIKE_FLOOR for v in top))
        for v in top:
            share = (sims[v] - LOOKALIKE_FLOOR) / total
            items = strongest.loc[users[v]]
            for i, p in enumerate(candidates):
                if p in items.index:
                    want[i] += share * items[p]
                    want_b[i] += share * ((users[v], p) in bought)
        got, got_b = index.collaborative(user, candidates)
        err["collaborative"] = max(err["collaborative"], float(np.abs(got - np.clip(want, 0, 1)).max()))
        err["purchased share"] = max(err["purchased share"], float(np.abs(got_b - want_b).max()))
        err["preference"] = max(err["preference"], _affinity_error(index.affinities(user), df[df["user_id"] == user],
                                                                   meta, weights, now, s.half_life_hours * HOUR))
    return err


def _affinity_error(got: tuple[dict[str, float], dict[str, float]], mine: pd.DataFrame, meta: dict[str, dict],
                    weights: dict[str, float], now: float, half_life: float) -> float:
    brands: dict[str, float] = {}
    cats: dict[str, float] = {}
    for r in mine[mine["type"] != "view"].itertuples(index=False):
        c = weights[r.type] * 2.0 ** ((r.t - now) / half_life)
        p = meta[r.product_id]
        if p["brand"]:
            brands[p["brand"].lower()] = brands.get(p["brand"].lower(), 0.0) + c
        for k in p["categories"]:
            cats[k.lower()] = cats.get(k.lower(), 0.0) + c
    worst = 0.0
    for have, want in zip(got, (brands, cats)):
        peak = max(want.values(), default=0.0)
        want = {k: v / peak for k, v in want.items()} if peak > 0 else {}
        if set(have) != set(want):
            return float("inf")
        worst = max([worst, *(abs(have[k] - want[k]) for k in want)])
    return worst


def month_span(log: Path) -> tuple[float, float]:
    stats = [pq.read_metadata(p).row_group(i).column(0).statistics for p in sorted(log.glob("*.parquet"))
             for i in range(pq.read_metadata(p).num_row_groups)]
    return (min(s.min for s in stats).timestamp(), max(s.max for s in stats).timestamp())
