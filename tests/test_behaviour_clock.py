"""Personalisation depends only on (user, query, now, weights): never on the clocks asked before, never on the future.

The reference is brute force: a new BehaviourIndex fed exactly the stored events with now − window ≤ t ≤ now.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fincommerce import Settings, Workbench
from fincommerce.embedding import Embedder
from fincommerce.schema import TIMESTAMP
from fincommerce.search.behaviour import BehaviourIndex
from tests.conftest import HOUR, PRODUCTS, T0

DAY = 24 * HOUR
USERS = [f"u{i}" for i in range(8)]
QUERIES = ["laptop for machine learning", "running shoes", "noise cancelling headphones", "kettle for tea"]
TYPES = ["view", "click", "add_to_cart", "purchase"]


@pytest.fixture(scope="module")
def clock_wb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Workbench]:
    """Eight shoppers over 20 days (the behaviour window is 7), seeded."""
    wb = Workbench(Settings(store_path=tmp_path_factory.mktemp("clock") / "store"), embedder=embedder)
    wb.index_products(PRODUCTS, show_progress=False)
    rng = np.random.default_rng(7)
    events = []
    for n in range(240):
        user = USERS[int(rng.integers(len(USERS)))]
        lean = USERS.index(user) % 4  # each shopper leans to one query, so look-alikes exist
        q = QUERIES[lean if rng.random() < 0.8 else int(rng.integers(len(QUERIES)))]
        product = PRODUCTS[(2 * lean + int(rng.integers(2))) % len(PRODUCTS)]
        events.append({"user_id": user, "product": product, "interaction_type": TYPES[int(rng.integers(4))],
                       "query": q, "timestamp": T0 - 20 * DAY + n * (20 * DAY / 240), "event_id": f"e{n}"})
    wb.log_interactions(events, show_progress=False)
    yield wb
    wb.close()


def reference(wb: Workbench, now: float) -> BehaviourIndex:
    index = BehaviourIndex.from_settings(wb.settings)
    index.retain_from = now - index.window
    history = wb.history
    index.add(e for e in history._read(-np.inf) if now - index.window <= e.timestamp <= now)
    return index


def assert_same(got: BehaviourIndex, want: BehaviourIndex) -> None:
    ids = [p["id"] for p in PRODUCTS]
    for user in USERS:
        g_collab, g_bought = got.collaborative(user, ids)
        w_collab, w_bought = want.collaborative(user, ids)
        np.testing.assert_allclose(g_collab, w_collab, rtol=0, atol=1e-9, err_msg=user)
        np.testing.assert_allclose(g_bought, w_bought, rtol=0, atol=1e-9, err_msg=user)
        for g, w in zip(got.affinities(user), want.affinities(user)):
            assert g.keys() == w.keys(), user
            np.testing.assert_allclose([g[k] for k in w], [w[k] for k in w], rtol=0, atol=1e-9, err_msg=user)
        gu, wu = got.users.get(user), want.users.get(user)
        assert (got.items[gu] if gu is not None else {}) == (want.items[wu] if wu is not None else {})
        assert (got.purchased[gu] if gu is not None else set()) == (want.purchased[wu] if wu is not None else set())


# Clocks inside the data, before it, just after it, and years later (the reproduction).
CLOCKS = st.one_of(st.sampled_from([T0, T0 - 10 * DAY, T0 + 3 * 365 * DAY, T0 - 30 * DAY, T0 + 2 * DAY]),
                   st.floats(T0 - 25 * DAY, T0 + 10 * DAY))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(clocks=st.lists(CLOCKS, min_size=2, max_size=6))
def test_behaviour_as_of_any_clock_equals_brute_force_whatever_was_asked_before(clock_wb: Workbench,
                                                                                 clocks: list[float]) -> None:
    for now in clocks:
        assert_same(clock_wb.history.at(now), reference(clock_wb, now))


def test_a_later_search_does_not_erase_personalisation(clock_wb: Workbench) -> None:
    """The issue's reproduction: search at the data's end, 3 years later, 10 days before, then again."""
    def search(now: float) -> list[tuple]:
        return [(r["product_id"], r["final_score"], r["collaborative_score"], r["preference_score"])
                for r in clock_wb.search_products("u1", "laptop for machine learning", 8, now=now)]

    first = search(T0)
    assert any(collab > 0 for _, _, collab, _ in first)
    search(T0 + 3 * 365 * DAY)
    search(T0 - 10 * DAY)
    assert_close(search(T0), first)


def assert_close(a: list[tuple], b: list[tuple]) -> None:
    assert [x[0] for x in a] == [x[0] for x in b]
    np.testing.assert_allclose([x[1:] for x in a], [x[1:] for x in b], rtol=0, atol=1e-9)


def test_no_look_ahead(clock_wb: Workbench) -> None:
    """A clock inside the data sees none of the events after it, even once the live index holds them."""
    clock_wb.history.at(T0)
    mid = T0 - 12 * DAY
    got = clock_wb.history.at(mid)
    assert got.newest <= mid
    later = [r for r in clock_wb.store.scroll(clock_wb.interactions, fields=[TIMESTAMP])
             if float(r.payload[TIMESTAMP]) > mid]
    assert later  # the store does hold the future
    assert_same(got, reference(clock_wb, mid))


def test_a_late_event_reaches_the_past_clocks_it_falls_in(clock_wb: Workbench) -> None:
    mid = T0 - 12 * DAY
    clock_wb.history.at(mid)  # cached for this clock
    clock_wb.log_interaction("u3", PRODUCTS[0], "purchase", "laptop for machine learning", timestamp=mid - DAY)
    got = clock_wb.history.at(mid)
    assert PRODUCTS[0]["id"] in got.purchased[got.users["u3"]]
    assert_same(got, reference(clock_wb, mid))


def test_past_clocks_keep_a_bounded_number_of_events(clock_wb: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four past windows of a month-sized store must not be held at once: beyond a budget of events only the
    newest asked stays, and every answer is still exact."""
    history = clock_wb.history
    history.resync()
    history.at(T0)
    clocks = [T0 - 12 * DAY, T0 - 9 * DAY, T0 - 6 * DAY]
    for now in clocks:
        history.at(now)
    assert list(history._as_of) == clocks  # the default budget keeps all three of this small store
    monkeypatch.setattr(history, "AS_OF_EVENTS", 1)
    for now in clocks:
        assert_same(history.at(now), reference(clock_wb, now))
        assert list(history._as_of) == [now]
