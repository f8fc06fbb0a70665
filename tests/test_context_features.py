"""Context features on hand-made logs whose answers are known, and on a random log against brute force."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fincommerce.errors import ValidationError
from fincommerce.offline.context_features import CONTEXT_FEATURES, ContextFeatures

NOW = 1_000_000.0
PRICES, CATEGORIES, BRANDS = [10.0, 20.0, 0.0, 40.0], ["a", "a", "b", ""], ["x", "y", "x", "x"]
# (time before NOW, user, product row, type)
EVENTS = [(172800, "u1", 0, "view"), (86410, "u1", 0, "add_to_cart"), (5000, "u3", 1, "view"),
          (4995, "u3", 3, "view"), (4990, "u3", 2, "add_to_cart"), (3601, "u2", 1, "view"),
          (3600, "u2", 1, "view"), (180, "u1", 1, "view"), (60, "u2", 1, "purchase")]
LATER = [(0, "u2", 0, "view"), (-10, "u1", 0, "purchase")]  # at and after NOW


def _features(events: list[tuple[float, str, int, str]]) -> ContextFeatures:
    cf = ContextFeatures(4, PRICES, CATEGORIES, BRANDS)
    for ago, user, row, kind in events:  # one page per event, as a replay between sessions hands them out
        cf.add(np.array([NOW - ago]), np.array([row]), np.array([kind], dtype=object), np.array([user], dtype=object))
    return cf


def _table(x: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(x, columns=list(CONTEXT_FEATURES))


def test_a_hand_made_log_gives_the_features_worked_out_by_hand() -> None:
    x = _table(_features(EVENTS).compute("u1", [1], [NOW - 180], [0, 1, 2, 3], NOW))
    np.testing.assert_allclose(x.minutes_since_own, [86410 / 60, 3.0, np.nan, np.nan])
    np.testing.assert_array_equal(x.context_recency, [0, 1, 0, 0])
    np.testing.assert_array_equal(x[["own_views", "own_carts", "own_purchases"]], [[1, 1, 0], [1, 0, 0], [0] * 3,
                                                                                  [0] * 3])
    # 1 h: the view exactly 3600 s ago is in, 3601 s ago is out; 24 h: the cart 86410 s ago is out.
    np.testing.assert_array_equal(x[["count_1h", "count_24h", "count_7d"]], [[0, 0, 2], [3, 5, 5], [0, 1, 1],
                                                                            [0, 1, 1]])
    # 6 views, 2 carts, 1 purchase before NOW: priors 1/3 and 1/6, worth 20 views.
    np.testing.assert_allclose(x.view_to_cart, [23 / 63, 5 / 18, 23 / 60, 20 / 63])
    np.testing.assert_allclose(x.view_to_purchase, [10 / 63, 13 / 72, 1 / 6, 10 / 63])
    # Finished sessions viewing product 1: u3's and u2's first; u3 viewed 1 and 3 and carted 2.
    np.testing.assert_allclose(x.co_viewed, [0, 0, 0, 2 ** -0.5])
    np.testing.assert_allclose(x.co_carted, [0, 0, 2 ** -0.5, 0])
    np.testing.assert_allclose(x.price_to_context, [0.5, 1.0, np.nan, 2.0])
    np.testing.assert_array_equal(x[["category_match", "brand_match"]], [[1, 0], [1, 1], [0, 0], [0, 0]])


def test_events_at_or_after_now_change_nothing() -> None:
    args = ("u1", [1], [NOW - 180], [0, 1, 2, 3], NOW)
    before = _features(EVENTS).compute(*args)
    np.testing.assert_array_equal(_features(EVENTS + LATER).compute(*args), before)
    assert not np.array_equal(_features(EVENTS + LATER).compute("u1", [1], [NOW - 180], [0, 1, 2, 3], NOW + 11),
                              before)


def test_a_fresh_context_counts_as_views_with_shares_of_its_prices_categories_and_brands() -> None:
    x = _table(ContextFeatures(4, PRICES, CATEGORIES, BRANDS)
               .compute("u9", [0, 1, 3], [NOW - 300, NOW - 200, NOW - 100], [0, 1, 2, 3], NOW))
    np.testing.assert_allclose(x.minutes_since_own, [5, 200 / 60, np.nan, 100 / 60])
    np.testing.assert_allclose(x.context_recency, [1 / 3, 1 / 2, 0, 1])  # 1 / (1 + products viewed since)
    np.testing.assert_array_equal(x.own_views, [1, 1, 0, 1])
    np.testing.assert_array_equal(x.count_1h, [1, 1, 0, 1])
    np.testing.assert_allclose(x.price_to_context, [0.5, 1.0, np.nan, 2.0])  # median of 10, 20, 40
    np.testing.assert_allclose(x.category_match, [2 / 3, 2 / 3, 0, 0])  # an empty category matches nothing
    np.testing.assert_allclose(x.brand_match, [2 / 3, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_array_equal(x.view_to_cart, [0, 0, 0, 0])  # no views yet: no prior either


def test_a_long_random_log_matches_brute_force_across_merges_and_the_horizon() -> None:
    rng = np.random.default_rng(7)
    n, n_items = 90_000, 40
    log = pd.DataFrame({"t": np.sort(rng.uniform(0, 20 * 86400, n)).round(), "row": rng.integers(0, n_items, n),
                        "kind": rng.choice(["view", "click", "add_to_cart", "purchase"], n, p=[.7, .1, .15, .05]),
                        "user": rng.choice([f"u{i}" for i in range(25)], n)})
    log["code"] = log.kind.map({"view": 0, "click": 0, "add_to_cart": 1, "purchase": 2}).to_numpy(int)
    cf = ContextFeatures(n_items, np.ones(n_items), ["c"] * n_items, ["b"] * n_items)
    cands = np.arange(n_items)

    def per_row(ev: pd.DataFrame) -> np.ndarray:
        return np.stack([np.bincount(ev.row[ev.code == k], minlength=n_items) for k in range(3)], 1)

    for i, idx in enumerate(np.array_split(np.arange(n), 300)):
        page = log.iloc[idx]
        cf.add(page.t.to_numpy(), page.row.to_numpy(), page.kind.to_numpy(object), page.user.to_numpy(object))
        if i % 10:
            continue
        now = float(page.t.iloc[-1]) - 600  # inside the page just added: its later events must not count
        x = _table(cf.compute("u3", [], [], cands, now))
        past = log[log.t < now]
        mine = past[past.user == "u3"]
        np.testing.assert_array_equal(x[["own_views", "own_carts", "own_purchases"]], per_row(mine))
        np.testing.assert_allclose(x.minutes_since_own, (now - mine.groupby("row").t.max().reindex(cands)) / 60)
        for col, w in (("count_1h", 3600), ("count_7d", 7 * 86400)):
            np.testing.assert_array_equal(x[col], np.bincount(past.row[past.t >= now - w], minlength=n_items))
        seen = per_row(past)
        world = seen.sum(0)
        np.testing.assert_allclose(x.view_to_cart, (seen[:, 1] + 20 * world[1] / world[0]) / (seen[:, 0] + 20))
    assert len(cf.events._pair_key) > 0  # events older than the horizon were folded into counts


def test_bad_input_is_named() -> None:
    cf = ContextFeatures(4, PRICES, CATEGORIES, BRANDS)
    with pytest.raises(ValidationError, match="prices"):
        ContextFeatures(3, PRICES, CATEGORIES[:3], BRANDS[:3])
    with pytest.raises(ValidationError, match="kinds"):
        cf.add(np.array([1.0]), np.array([0]), np.array(["like"], dtype=object), np.array(["u"], dtype=object))
    with pytest.raises(ValidationError, match="rows"):
        cf.add(np.array([1.0]), np.array([4]), np.array(["view"], dtype=object), np.array(["u"], dtype=object))
    with pytest.raises(ValidationError, match="context_times"):
        cf.compute("u", [0, 1], [NOW], [0], NOW)
    cf.add(np.array([NOW]), np.array([0]), np.array(["view"], dtype=object), np.array(["u"], dtype=object))
    with pytest.raises(ValidationError, match="now"):
        cf.compute("u", [], [], [0], NOW - 2 * 86400)


def test_the_session_protocol_sees_the_context_just_before_the_first_conversion() -> None:
    from fincommerce.embedding import Embedder
    from fincommerce.offline.sessions import build_session_data
    from tests.test_sessions import _event

    rows = [_event(f"h{i}", "p3", "purchase", 60.0 * i, f"h{i}") for i in range(5)]
    rows += [_event("u1", "p1", "view", 3600, "s1"), _event("u1", "p2", "view", 3660, "s1"),
             _event("u1", "p1", "view", 3690, "s1"), _event("u1", "p2", "add_to_cart", 3720, "s1"),
             _event("z", "p4", "view", 3700, "z")]  # during s1, after its start: not yet replayed
    data = build_session_data(Embedder(), pd.DataFrame(rows), warmup=0.0, tune=0.0, show_progress=False).data
    assert data.feature_names[-len(CONTEXT_FEATURES):] == CONTEXT_FEATURES
    x = pd.DataFrame(data.features[0][:, -len(CONTEXT_FEATURES):], columns=list(CONTEXT_FEATURES),
                     index=data.sessions.candidates[0])
    np.testing.assert_allclose(x.minutes_since_own[["p1", "p2"]], [0.5, 1.0])  # as of the cart at 3720
    np.testing.assert_array_equal(x.context_recency[["p1", "p2", "p3"]], [1, 0.5, 0])
    assert x.own_views.to_dict() == {"p1": 1, "p2": 1, "p3": 0, "p4": 0}  # one per context product
    assert x.count_24h.to_dict() == {"p1": 1, "p2": 1, "p3": 5, "p4": 0}


def _trained_on(feature: str, values: tuple[float, float], seed: int = 0):
    """A real LambdaRank model on sessions where the one candidate with `feature` set is the one bought."""
    from fincommerce.offline.evaluation import EvalData
    from fincommerce.offline.learning import train_ranker
    from fincommerce.search.features import NEUTRAL, RAW_FEATURES

    rng = np.random.default_rng(seed)
    n, c, names = 400, 20, (*RAW_FEATURES, *CONTEXT_FEATURES)
    x = rng.random((n, c, len(names)))
    j = names.index(feature)
    x[..., j] = NEUTRAL[feature]
    hit = rng.integers(0, c, n)
    x[np.arange(n), hit, j] = rng.uniform(*values, n)
    gains = np.zeros((n, c), np.float32)
    gains[np.arange(n), hit] = 1.0
    data = EvalData(pd.DataFrame({"timestamp": np.arange(n, dtype=float)}), rng.random((n, c, 5)).astype(np.float32),
                    gains, np.full(n, "tune"), x.astype(np.float32), names)
    return train_ranker(data, seed=seed, num_threads=1)


@pytest.mark.parametrize(("feature", "values", "value", "sentence"), [
    ("minutes_since_own", (0.5, 20.0), 3.2, "👀 You viewed this 3 minutes ago"),
    ("co_viewed", (0.3, 1.0), 0.8, "🛒 Often viewed together with what you just looked at"),
    ("own_purchases", (1.0, 3.0), 2.0, "🔁 You bought this before"),
    ("context_recency", (1.0, 1.0), 1.0, "👀 The last thing you looked at"),
])
def test_the_learned_ranker_says_the_context_feature_that_tops_a_result(feature: str, values: tuple[float, float],
                                                                        value: float, sentence: str) -> None:
    from fincommerce.config import DEFAULT_RANKING_WEIGHTS
    from fincommerce.search.features import NEUTRAL
    from fincommerce.search.ranking import Candidates, rank_candidates

    model = _trained_on(feature, values)
    rng = np.random.default_rng(1)
    context = np.tile(rng.random(len(CONTEXT_FEATURES)), (5, 1))
    j = CONTEXT_FEATURES.index(feature)
    context[:, j] = NEUTRAL[feature]
    context[2, j] = value
    c = Candidates([f"p{i}" for i in range(5)], [{"price": 10.0, "brand": "", "categories": []} for _ in range(5)],
                   np.full(5, 0.5), np.full(5, 0.1), np.zeros(5), np.zeros(5), context=context)
    results = rank_candidates(c, DEFAULT_RANKING_WEIGHTS, model=model)
    assert results[0]["product_id"] == "p2" and results[0]["explanations"][0] == sentence
    assert all(sentence not in r["explanations"] for r in results[1:])  # the others never had it
    plain = rank_candidates(Candidates(c.product_ids, c.payloads, c.cosine, c.popularity, c.collaborative,
                                       c.bought_share), DEFAULT_RANKING_WEIGHTS, model=model)
    assert all(sentence not in r["explanations"] for r in plain)  # the live path: context unknown, NaN
    assert np.isfinite([r["final_score"] for r in plain]).all()


def test_context_signals_are_extra_linear_weights_that_default_to_zero() -> None:
    from fincommerce.config import DEFAULT_RANKING_WEIGHTS
    from fincommerce.embedding import Embedder
    from fincommerce.offline.context_linear import linear_inputs
    from fincommerce.offline.sessions import build_session_data, protocol_table
    from tests.test_sessions import _event

    rows = [_event(f"h{i}", "p3", "purchase", 60.0 * i, f"h{i}") for i in range(5)]
    for s in range(4):  # each session views three products and buys the one it viewed first
        order = ["p1", "p2", "p4"] if s % 2 else ["p4", "p1", "p2"]
        rows += [_event(f"u{s}", p, "view", 7200 * (s + 1) + 60 * k, f"s{s}") for k, p in enumerate(order)]
        rows += [_event(f"u{s}", order[0], "purchase", 7200 * (s + 1) + 600, f"s{s}")]
    proto = build_session_data(Embedder(), pd.DataFrame(rows), warmup=0.0, tune=0.0, show_progress=False)
    table = protocol_table(proto, {"seed": DEFAULT_RANKING_WEIGHTS, "seed, recency 0": {**DEFAULT_RANKING_WEIGHTS,
                                                                                        "context_recency": 0.0},
                                   "recency only": {"context_recency": 1.0}}, n_boot=50).set_index("ranker")
    metrics = ["ndcg@10", "recall@20", "mrr@20"]
    pd.testing.assert_series_equal(table.loc["seed", metrics], table.loc["seed, recency 0", metrics], check_names=False)
    pd.testing.assert_series_equal(table.loc["recency only", metrics],
                                   table.loc["baseline: most recently viewed first", metrics], check_names=False)
    assert table.loc["recency only", "ndcg@10"] != table.loc["seed", "ndcg@10"]  # a named weight does count
    data = proto.data
    with pytest.raises(ValidationError, match="context_recency"):
        linear_inputs(data.signals, data.features, data.feature_names, {"context_recency": -1.0})
    with pytest.raises(ValidationError, match="weights"):
        linear_inputs(data.signals, None, (), {"co_viewed": 1.0})
