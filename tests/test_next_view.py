"""The next-view protocol: steps, contexts, candidates, no look-ahead, the kNN baseline, paired CIs, skips."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fincommerce.config import DEFAULT_RANKING_WEIGHTS
from fincommerce.embedding import Embedder
from fincommerce.errors import ValidationError
from fincommerce.offline.next_view import build_next_view_data, candidates, next_view_steps
from fincommerce.offline.next_view_rankers import KNN, LEARNED, SEMANTIC, TUNED, compare_next_view, per_session
from fincommerce.offline.sessions import indexed_events
from fincommerce.schema import SIGNALS
from fincommerce.search.signals import NEUTRAL_AFFORDABILITY
from fincommerce.ui.next_view_findings import next_view_findings

T0 = 1_700_000_000.0
NAMES = {"A": "Samsung Galaxy Phone", "B": "Apple iPhone", "C": "Samsung Galaxy Phone Case", "D": "Garden Hose",
         "E": "Lawn Mower", "F": "Espresso Machine", "G": "Running Shoes", "H": "Wireless Headphones"}


def _event(user: str, product: str, kind: str, t: float, session: str = "", price: float | None = 100.0) -> dict:
    return {"user_id": user, "product_id": product, "interaction_type": kind, "timestamp": T0 + t,
            "session_id": session, "query": "", "price": price, "brand": NAMES[product].split()[0],
            "category": "Garden" if product in "DE" else "Other", "name": NAMES[product]}


def _catalogue(t: float = 0.0) -> list[dict]:
    """One view of every product by its own shopper: single-event sessions that put them in the catalogue."""
    return [_event(f"c{p}", p, "view", t + i, f"c{p}") for i, p in enumerate(NAMES)]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_steps_targets_and_contexts_known_in_advance() -> None:
    rows = _catalogue() + [_event("u1", "A", "view", 100, "s1"), _event("u1", "B", "view", 200, "s1"),
                           _event("u1", "A", "view", 300, "s1"), _event("u1", "C", "add_to_cart", 350, "s1"),
                           _event("u1", "C", "view", 400, "s1"),
                           _event("u2", "D", "view", 500, "s2"), _event("u2", "D", "view", 600, "s2")]
    ev, last = indexed_events(pd.DataFrame(rows))
    steps, skipped = next_view_steps(ev)
    pid = last.product_id.to_numpy()
    assert [(s[1], pid[s[3]]) for s in steps] == [("s1", "B"), ("s1", "C")]  # A again is no target, nor a cart
    assert [sorted(pid[s[4]]) for s in steps] == [["A"], ["A", "B"]]
    assert steps[1][0] == T0 + 400 and dict(zip(pid[steps[1][4]], steps[1][5])) == {"A": T0 + 300, "B": T0 + 200}
    assert skipped == {"one-event sessions": len(NAMES), "sessions with one distinct viewed product or none": 1}


def test_candidates_nearest_popular_and_the_target_slot() -> None:
    cosine = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    context, popular = np.array([0]), np.array([0, 1, 6])
    rows, hit = candidates(cosine, popular, context, 5, n_near=2, n_popular=1, size=4)
    assert rows.tolist() == [1, 2, 5, 6] and not hit  # nearest 1, 2; popular 6 (0 viewed, 1 taken); target added
    rows, hit = candidates(cosine, popular, context, 2, n_near=2, n_popular=1, size=4)
    assert rows.tolist() == [1, 2, 3, 6] and hit  # retrieved: the extra slot is the next nearest, 3


def _planted(n_history: int = 12) -> pd.DataFrame:
    """Shoppers who viewed the phone then the garden hose, an hour apart; the hose is far from the phone in
    meaning and unpopular, so only co-occurrence from the finished sessions before can rank it first."""
    rows = _catalogue()
    for i in range(n_history):
        t = 3600.0 * (i + 1)
        rows += [_event(f"h{i}", "A", "view", t, f"h{i}"), _event(f"h{i}", "D", "view", t + 60, f"h{i}")]
        rows += [_event(f"p{i}", "B", "purchase", t + 30 + k, f"p{i}{k}") for k in range(3)]  # B trends
    return pd.DataFrame(rows)


def test_knn_ranks_the_co_viewed_product_first_and_ci_are_paired(embedder: Embedder) -> None:
    proto = build_next_view_data(embedder, _planted(), warmup=0.0, tune=0.5, n_near=3, n_popular=2,
                                 show_progress=False)
    data = proto.data
    assert proto.n_targets == 12 and data.gains.shape == (12, 6) and (data.gains.sum(1) == 1).all()
    assert all("A" not in c for c in data.sessions.candidates)  # the context is never a candidate
    knn = dict(zip(data.sessions.candidates[5], proto.cooccurrence[5]))
    # 5 finished sessions viewed both; 6 viewed each (the catalogue's single views count too): 5 / sqrt(6 · 6)
    assert knn["D"] == pytest.approx(5 / 6) and sum(knn.values()) == pytest.approx(5 / 6)
    assert proto.cooccurrence[0].sum() == 0.0  # the first session has no finished session before it
    result = compare_next_view(proto, DEFAULT_RANKING_WEIGHTS, step=0.25, n_boot=200, seed=3)
    rows = result.table.set_index("ranker")
    assert result.strongest == KNN and rows.loc[KNN, "ndcg@10"] == 1.0 and rows.loc[KNN, "mrr@20"] == 1.0
    assert rows.loc[SEMANTIC, "mrr@20"] < 1.0 and LEARNED not in rows.index  # 6 tuning steps: too few to train
    gains = rows["ndcg@10"] - rows.loc[KNN, "ndcg@10"]
    assert np.allclose(rows["gain vs strongest baseline"], gains)
    assert (rows["gain lo"] <= rows["gain vs strongest baseline"] + 1e-12).all()
    assert (rows["gain vs strongest baseline"] <= rows["gain hi"] + 1e-12).all()
    versus = result.versus.set_index(["ranker", "baseline"])
    assert versus.loc[(TUNED, KNN), "gain"] == pytest.approx(rows.loc[TUNED, "ndcg@10"] - 1.0)
    assert result.n_sessions == {"tune": 6, "test": 6} and result.summary()["table_fingerprint"]
    words = next_view_findings(json.loads(json.dumps(result.summary(), default=float)))
    assert words[0].startswith("Next-view protocol: 12 targets")
    assert "strongest baseline is co-occurrence kNN" in words[1]
    assert any(w.startswith("Missing from the tuned linear ranker: what other sessions viewed together") for w in words)
    assert words[-1].startswith("For context only, other protocols")


def test_no_look_ahead(embedder: Embedder) -> None:
    log = _planted(6)
    later = [_event(f"z{i}", p, kind, 10 * 3600.0 + i, f"z{i}") for i, (p, kind) in
             enumerate([("D", "purchase"), ("E", "add_to_cart"), ("D", "purchase"), ("C", "purchase")])]
    a, b = (build_next_view_data(embedder, x, warmup=0.0, tune=0.0, n_near=3, n_popular=2, show_progress=False)
            for x in (log, pd.concat([log, pd.DataFrame(later)], ignore_index=True)))
    assert a.n_targets == b.n_targets == 6 and a.data.sessions.target.tolist() == b.data.sessions.target.tolist()
    for i in range(6):  # the product rows differ (newest event first), so compare candidate by candidate
        ca, cb = (np.array(p.data.sessions.candidates[i]) for p in (a, b))
        assert sorted(ca) == sorted(cb)
        ia, ib = np.argsort(ca), np.argsort(cb)
        for x, y in ((a.data.signals, b.data.signals), (a.data.features, b.data.features),
                     (a.cooccurrence, b.cooccurrence), (a.data.gains, b.data.gains)):
            np.testing.assert_allclose(x[i][ia], y[i][ib], rtol=1e-6, equal_nan=True)


def test_per_session_means_weigh_sessions_equally() -> None:
    assert per_session(np.array([1.0, 0.0, 1.0, 0.5]), np.array(["a", "a", "b", "c"])).tolist() == [0.5, 1.0, 0.5]


def test_bad_input_skips_with_counts(embedder: Embedder) -> None:
    rows = [_event("u1", p, "view", 60.0 * i) for i, p in enumerate("ABCA")]  # no session ids, no 30-minute gap
    rows += [_event("u2", "D", "view", 100.0), _event("u3", "E", "view", 200.0, price=None),
             _event("u3", "F", "view", 260.0), _event("u3", "G", "view", 320.0)]
    proto = build_next_view_data(embedder, pd.DataFrame(rows), warmup=0.0, tune=0.0, n_near=3, n_popular=1,
                                 show_progress=False)
    assert proto.notes == ["The log has no session ids and no 30-minute gaps to split on: each of its 3 shoppers' "
                           "whole history is one session."]
    assert proto.skipped["one-event sessions"] == 1 and proto.n_targets == 4  # B, C for u1; F, G for u3
    d = proto.data
    unpriced = [(i, j) for i in range(len(d.gains)) for j, c in enumerate(d.sessions.candidates[i]) if c == "E"]
    assert proto.skipped["candidate slots without a price (neutral affordability)"] == len(unpriced) > 0
    assert all(d.signals[i, j, SIGNALS.index("affordability")] == pytest.approx(NEUTRAL_AFFORDABILITY)
               for i, j in unpriced)
    only_one = build_next_view_data(embedder, pd.DataFrame(rows[4:5]), show_progress=False)
    assert only_one.n_targets == 0 and only_one.skipped["one-event sessions"] == 1 and len(only_one.data.gains) == 0
    empty = compare_next_view(only_one, DEFAULT_RANKING_WEIGHTS, n_boot=10)
    assert empty.table.empty and empty.summary()["skipped"]["one-event sessions"] == 1
    with pytest.raises(ValidationError, match="price"):
        build_next_view_data(embedder, pd.DataFrame(rows).drop(columns="price"), show_progress=False)
