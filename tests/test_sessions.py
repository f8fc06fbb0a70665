"""The session protocol for logs without queries: context, candidates, gains, no look-ahead, baselines."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fincommerce.config import DEFAULT_RANKING_WEIGHTS
from fincommerce.embedding import Embedder
from fincommerce.offline.sessions import build_session_data, protocol_table
from fincommerce.schema import SIGNALS

T0 = 1_700_000_000.0
NAMES = {"p1": "Samsung Galaxy Phone", "p2": "Samsung Galaxy Phone Case", "p3": "Apple iPhone",
         "p4": "Garden Hose", "p5": "Lawn Mower"}


def _event(user: str, product: str, kind: str, t: float, session: str = "") -> dict:
    return {"user_id": user, "product_id": product, "interaction_type": kind, "timestamp": T0 + t,
            "session_id": session, "query": "", "price": 100.0, "brand": NAMES[product].split()[0],
            "category": "Phones" if product < "p4" else "Garden", "name": NAMES[product]}


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    rows = [_event(f"h{i}", "p3", "purchase", 60.0 * i, f"h{i}") for i in range(5)]  # p3 is popular before s1
    rows += [_event("u1", "p1", "view", 3600, "s1"), _event("u1", "p2", "view", 3660, "s1"),
             _event("u1", "p2", "add_to_cart", 3720, "s1"), _event("u1", "p2", "purchase", 3780, "s1")]
    rows += [_event(f"l{i}", "p4", "purchase", 3700.0 + i, f"l{i}") for i in range(5)]  # p4 only after s1 starts
    rows += [_event("u2", "p5", "purchase", 7200, "s2")]  # a purchase without a view first: not evaluated
    rows += [_event("u3", "p4", "view", 9000), _event("u3", "p5", "add_to_cart", 9060)]  # no session id: by gaps
    return pd.DataFrame(rows)


def test_sessions_context_candidates_gains_and_no_look_ahead(log: pd.DataFrame) -> None:
    proto = build_session_data(Embedder(), log, warmup=0.0, tune=0.0, show_progress=False)
    data = proto.data
    assert data.sessions.session_id.tolist() == ["s1", "gap:u3:1"] and set(data.split) == {"test"}
    s1 = data.sessions.candidates[0]
    assert len(s1) == 5 and {"p1", "p2"} <= set(s1)  # the catalogue has 5 products: all are candidates
    gains = dict(zip(s1, data.gains[0]))
    assert gains["p2"] == 1.0 and sum(gains.values()) == 1.0  # carted then bought: the stronger grade
    popularity = dict(zip(s1, data.signals[0][:, SIGNALS.index("popularity")]))
    assert popularity["p3"] == 1.0 and popularity["p4"] == 0.0  # p4's purchases came after s1 started
    # the bias report's popularity: interaction counts (every type) before each session's start
    counts = [dict(zip(data.sessions.candidates[i], data.popularity.counts[i])) for i in range(2)]
    assert counts[0] == {"p1": 0, "p2": 0, "p3": 5, "p4": 0, "p5": 0}
    assert counts[1] == {"p1": 1, "p2": 3, "p3": 5, "p4": 5, "p5": 1}
    assert data.popularity.target.tolist() == [0.0, 1.0] and data.popularity.n_catalogue == 5  # p2, then p5
    assert data.popularity.in_tail[0].tolist() == [c != "p3" for c in s1]  # p3 holds every interaction so far
    recency = dict(zip(s1, proto.recency[0]))
    assert recency["p2"] == 1.0 and recency["p1"] == 0.5 and recency["p3"] == 0.0
    semantic = dict(zip(s1, data.signals[0][:, SIGNALS.index("semantic")]))
    assert semantic["p1"] > semantic["p4"] and semantic["p2"] > semantic["p5"]


def test_protocol_table_compares_paired_with_the_first_weights(log: pd.DataFrame) -> None:
    proto = build_session_data(Embedder(), log, warmup=0.0, tune=0.0, show_progress=False)
    only_pop = {s: float(s == "popularity") for s in SIGNALS}
    table = protocol_table(proto, {"seed defaults": DEFAULT_RANKING_WEIGHTS, "only popularity": only_pop}, n_boot=50)
    rows = table.set_index("ranker")
    assert list(rows.index) == ["seed defaults", "only popularity", "baseline: most recently viewed first"]
    assert rows.loc["seed defaults", "gain vs first"] == 0.0
    assert rows.loc["baseline: most recently viewed first", "gain vs recency"] == 0.0
    assert rows.loc["seed defaults", "gain vs recency"] == pytest.approx(
        rows.loc["seed defaults", "ndcg@10"] - rows.loc["baseline: most recently viewed first", "ndcg@10"])
    # s1 bought its last view (rank 1); u3 viewed the hose and carted the mower, which ties at 0 with the
    # unviewed products and wins the tie as the nearest to the context (rank 2).
    assert rows.loc["baseline: most recently viewed first", "mrr@20"] == pytest.approx(np.mean([1.0, 0.5]))
