"""The columnar behaviour index against brute force over the events it should hold: removals down to zero,
landmark rescales, ties among look-alikes, and near-ties the float32 pass cannot tell apart (issue 24). Every
test runs twice: with the few users' float64 vectors kept (`DenseVectors`) and with the float32 pass of big indexes."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from fincommerce.search import lookalikes
from fincommerce.search.behaviour import LOOKALIKE_FLOOR, NEIGHBOURS, BehaviourEvent, BehaviourIndex

WEIGHTS = {"view": 0.1, "click": 0.3, "add_to_cart": 0.6, "purchase": 1.0}
HOUR = 3600.0
DIM = 16
PRODUCTS = [f"p{i}" for i in range(12)]


@pytest.fixture(autouse=True, params=["dense", "float32 pass"])
def lookalike_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "float32 pass":
        monkeypatch.setattr(lookalikes, "DENSE_USERS", 0)
    return request.param


def brute(held: list[BehaviourEvent], half_life: float, user: str, products: list[str]
          ) -> tuple[np.ndarray, np.ndarray, dict[str, float], dict[str, float]]:
    """(collaborative, purchased share, brand and category affinities) by the documented formulas."""
    now = max(e.timestamp for e in held)
    mine: dict[str, list[BehaviourEvent]] = defaultdict(list)
    for e in held:
        mine[e.user_id].append(e)
    vec = {u: sum(WEIGHTS[e.interaction_type] * 2.0 ** ((e.timestamp - now) / half_life)
                  * np.asarray(e.vector, np.float64) for e in es) for u, es in mine.items()}
    norm = {u: float(np.linalg.norm(v)) for u, v in vec.items()}
    sims = {v: float(vec[user] @ vec[v]) / (norm[user] * norm[v]) for v in mine
            if v != user and norm[v] > 0 and norm.get(user, 0) > 0}
    top = sorted([v for v in sims if sims[v] > LOOKALIKE_FLOOR], key=lambda v: (-round(sims[v], 12), v))[:NEIGHBOURS]
    total = sum(sims[v] - LOOKALIKE_FLOOR for v in top)
    score, bought = np.zeros(len(products)), np.zeros(len(products))
    for v in top:
        share = (sims[v] - LOOKALIKE_FLOOR) / total
        for i, p in enumerate(products):
            kinds = {e.interaction_type for e in mine[v] if e.product_id == p}
            if kinds:
                score[i] += share * max(WEIGHTS[k] for k in kinds) / max(WEIGHTS.values())
                bought[i] += share * ("purchase" in kinds)
    tastes: list[dict[str, float]] = [{}, {}]
    for e in mine.get(user, []):
        if e.interaction_type != "view":
            c = WEIGHTS[e.interaction_type] * 2.0 ** ((e.timestamp - now) / half_life)
            for table, keys in zip(tastes, ([e.brand.lower()] if e.brand else [], [k.lower() for k in e.categories])):
                for k in keys:
                    table[k] = table.get(k, 0.0) + c
    scaled = [{k: v / max(t.values()) for k, v in t.items()} for t in tastes]
    return np.clip(score, 0, 1), bought, scaled[0], scaled[1]


def assert_matches(index: BehaviourIndex, held: list[BehaviourEvent], half_life: float) -> None:
    for user in sorted({e.user_id for e in held}):
        collab, bought, brands, cats = brute(held, half_life, user, PRODUCTS)
        got, got_bought = index.collaborative(user, PRODUCTS)
        np.testing.assert_allclose(got, collab, rtol=0, atol=1e-9, err_msg=user)
        np.testing.assert_allclose(got_bought, bought, rtol=0, atol=1e-9, err_msg=user)
        for have, want in zip(index.affinities(user), (brands, cats)):
            assert have.keys() == want.keys(), user
            np.testing.assert_allclose([have[k] for k in want], [want[k] for k in want], rtol=0, atol=1e-9)


def stream(rng: np.random.Generator, n: int, users: int, span: float) -> list[BehaviourEvent]:
    """Users leaning to one of four directions over a shared template, so look-alikes exist."""
    base, lean = rng.normal(size=DIM), rng.normal(size=(4, DIM))
    sentences = (base + 0.8 * lean[np.arange(24) % 4] + 0.5 * rng.normal(size=(24, DIM))).astype(np.float32)
    out = []
    for k in range(n):
        u = int(rng.integers(users))
        p = (u % 4) + 4 * int(rng.integers(3)) if rng.random() < 0.8 else int(rng.integers(len(PRODUCTS)))
        kind = list(WEIGHTS)[int(rng.integers(4))]
        out.append(BehaviourEvent(f"u{u}", PRODUCTS[p], kind, k * span / n, f"Brand{p % 3}" if p % 5 else "",
                                  (f"Cat{p % 4}", "All"), sentences[(2 * p + len(kind)) % 24]))
    return out


@pytest.mark.parametrize("half_life", [HOUR, 24 * HOUR])
def test_sliding_window_equals_brute_force_with_rescales(half_life: float) -> None:
    """30 days at a one-hour half-life is 720 half-lives: the landmark moves (rescale) while events leave."""
    rng = np.random.default_rng(11)
    events = stream(rng, 1200, 30, 30 * 24 * HOUR)
    index = BehaviourIndex(WEIGHTS, half_life, 7 * 24 * HOUR, DIM)
    first = events[0].timestamp
    for step in range(0, len(events), 200):
        index.add(events[step:step + 200])
        index.remove(events[max(0, step - 400):max(0, step - 200)])
        assert_matches(index, events[max(0, step - 200):step + 200], half_life)
    assert index.landmark is not None and (index.landmark > first) == (half_life == HOUR)


def test_removal_to_zero_leaves_nothing_and_re_adding_equals_a_fresh_index() -> None:
    rng = np.random.default_rng(2)
    events = stream(rng, 300, 10, 2 * 24 * HOUR)
    index = BehaviourIndex(WEIGHTS, HOUR, 7 * 24 * HOUR, DIM)
    index.add(events)
    index.remove([e for e in events if e.user_id == "u3"])
    u = index.users["u3"]
    assert index.items[u] == {} and index.purchased[u] == set() and index.affinities("u3") == ({}, {})
    assert not index.collaborative("u3", PRODUCTS)[0].any()
    assert_matches(index, [e for e in events if e.user_id != "u3"], HOUR)
    index.remove(events)  # everything, then a removal of what is not held any more (ignored)
    index.remove(events[:5])
    assert index._events.held == 0 and len(index._pool) == 0
    index.add(events)
    fresh = BehaviourIndex(WEIGHTS, HOUR, 7 * 24 * HOUR, DIM)
    fresh.add(events)
    for user in sorted(index.users):
        for a, b in zip(index.collaborative(user, PRODUCTS), fresh.collaborative(user, PRODUCTS)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_ties_go_to_the_smaller_user_id_whatever_the_arrival_order() -> None:
    """30 shoppers with the very same behaviour (cosine 1): the 20 smallest ids are the look-alikes."""
    v = np.ones(DIM, np.float32)
    tied = [BehaviourEvent(f"t{k:02d}", PRODUCTS[k % 6], "purchase", 10.0, "", (), v) for k in range(30)]
    me = BehaviourEvent("me", PRODUCTS[11], "purchase", 10.0, "", (), v)
    results = []
    for seed in range(3):
        order = [tied[i] for i in np.random.default_rng(seed).permutation(30)]
        index = BehaviourIndex(WEIGHTS, HOUR, 7 * 24 * HOUR, DIM)
        index.add([*order, me])
        results.append(index.collaborative("me", PRODUCTS)[0])
    want = np.zeros(len(PRODUCTS))
    for k in range(20):  # t00 … t19, equal shares
        want[k % 6] += 1 / 20
    for got in results:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_near_ties_below_float32_resolution_are_chosen_by_float64() -> None:
    """40 shoppers whose cosines with the asker are 1 − 1e-7 − k·1e-9, in shuffled order: float32 cannot
    tell them apart, yet the chosen 20 and their weights are those of float64 brute force."""
    rng = np.random.default_rng(4)
    base = rng.normal(size=DIM)
    base /= np.linalg.norm(base)
    held = [BehaviourEvent("me", PRODUCTS[0], "purchase", 0.0, "", (), base.astype(np.float32))]
    for k in rng.permutation(40):
        side = rng.normal(size=DIM)
        side -= (side @ base) * base
        tilt = np.sqrt(2 * (1e-7 + k * 1e-9))  # cosine 1/sqrt(1 + tilt²) ≈ 1 − tilt²/2
        v = (base + tilt * side / np.linalg.norm(side)).astype(np.float32)
        held.append(BehaviourEvent(f"n{k:02d}", PRODUCTS[1 + k % 11], "purchase", 0.0, "", (), v))
    index = BehaviourIndex(WEIGHTS, HOUR, 7 * 24 * HOUR, DIM)
    index.add(held)
    want, want_bought, _, _ = brute(held, HOUR, "me", PRODUCTS)
    got, got_bought = index.collaborative("me", PRODUCTS)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got_bought, want_bought, rtol=0, atol=1e-9)


def test_a_bad_event_is_one_clear_error() -> None:
    index = BehaviourIndex(WEIGHTS, HOUR, 7 * 24 * HOUR, DIM)
    with pytest.raises(ValueError, match="interaction_type"):
        index.add([BehaviourEvent("u", "p", "stare", 0.0, "", (), np.zeros(DIM, np.float32))])
    with pytest.raises(ValueError, match="vector"):
        index.add([BehaviourEvent("u", "p", "view", 0.0, "", (), np.zeros(DIM + 1, np.float32))])


def test_events_and_users_after_a_compaction_are_seen() -> None:
    """The look-alike pass reads events grouped by user (CSR) plus those added since (COO), new users too."""
    rng = np.random.default_rng(8)
    events = stream(rng, 800, 40, 24 * HOUR)
    early = [e for e in events if int(e.user_id[1:]) < 36]
    late = [e for e in events if int(e.user_id[1:]) >= 36][:3] + [e for e in early[-60:] if e.user_id == "u1"]
    index = BehaviourIndex(WEIGHTS, HOUR, 7 * 24 * HOUR, DIM)
    early = [e for e in early if e not in late]
    index.add(early)
    index.collaborative("u0", PRODUCTS)  # groups everything held so far
    index.remove(early[:2])
    index.add(late)
    index.collaborative("u0", PRODUCTS)
    assert index._events.grouped < index._events.size  # a tail was read
    assert_matches(index, early[2:] + late, HOUR)
