"""Several workers on one server (qdrant-client's local mode stands in for it): each reads only what is new."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PRODUCTS

from fincommerce import Settings, Workbench
from fincommerce.store import Range
from fincommerce.store.client import ClientStore

T0 = 1_700_000_000.0
TYPES = ["view", "click", "add_to_cart", "purchase"]


def _events(start: int, n: int, t0: float) -> list[dict]:
    return [{"user_id": f"u{i % 7}", "product_payload": PRODUCTS[i % len(PRODUCTS)], "interaction_type": TYPES[i % 4],
             "timestamp": t0 + i, "event_id": f"e{start + i}"} for i in range(n)]


def _worker(tmp_path: Path, name: str, store: ClientStore, embedder) -> Workbench:
    settings = Settings(store_path=tmp_path / name, qdrant_url="http://shared-server:6333", refresh_seconds=0)
    return Workbench(settings, store=store, embedder=embedder)


def _same(a: list[dict], b: list[dict]) -> None:
    assert [(r["product_id"], r["total_interactions"]) for r in a] == [(r["product_id"], r["total_interactions"])
                                                                       for r in b]
    assert [r["raw_score"] for r in a] == pytest.approx([r["raw_score"] for r in b], rel=1e-9)


def test_workers_read_only_new_events_and_agree_with_a_full_read(tmp_path: Path, embedder) -> None:
    shared = ClientStore(":memory:")
    a = _worker(tmp_path, "a", shared, embedder)
    b = _worker(tmp_path, "b", shared, embedder)
    a.log_interactions(_events(0, 120, T0), show_progress=False)
    now = T0 + 200
    assert b.popularity.feed.refresh() == 120  # the first refresh sees everything a wrote
    a.log_interactions(_events(120, 40, T0 + 120), show_progress=False)
    assert b.popularity.feed.refresh() == 40  # then only the new ones, not the 120 again
    assert b.popularity.feed.refresh() == 0
    b.log_interactions(_events(160, 10, T0 + 160), show_progress=False)
    assert a.popularity.feed.refresh() == 10 and b.popularity.feed.refresh() == 0  # own writes count once
    fresh = _worker(tmp_path, "c", shared, embedder)
    for tf in (1, 24):
        expected = fresh.get_top_interacted_products(tf, 10, now=now)
        _same(a.get_top_interacted_products(tf, 10, now=now), expected)
        _same(b.get_top_interacted_products(tf, 10, now=now), expected)
    assert shared.count("interaction_memory") == sum(r["total_interactions"]
                                                     for r in fresh.get_top_interacted_products(24, 1000, now=now))


def test_an_event_arriving_long_after_newer_ones_forces_an_exact_reload(tmp_path: Path, embedder) -> None:
    shared = ClientStore(":memory:")
    a = _worker(tmp_path, "a", shared, embedder)
    b = _worker(tmp_path, "b", shared, embedder)
    a.log_interactions(_events(0, 100, T0), show_progress=False)
    b.popularity.feed.refresh()
    late = _events(500, 3, T0 + 10)  # older than b's cut (newest − overlap): the increment read cannot see them
    a.log_interactions(late, show_progress=False)
    assert shared.count("interaction_memory", [Range("timestamp", lt=b.popularity.feed.cut)]) > b.popularity.feed.below
    b.popularity.feed.check_every = 10**9  # the count below the cut runs every check_every refreshes only:
    assert b.popularity.feed.refresh() == 0  # an increment alone cannot see the late events ...
    b.popularity.feed.check_every = 1
    assert b.popularity.feed.refresh() == 103  # ... a counting refresh sees them and reads everything again
    now = T0 + 150
    _same(b.get_top_interacted_products(24, 10, now=now), _worker(tmp_path, "c", shared, embedder)
          .get_top_interacted_products(24, 10, now=now))
    assert sum(r["total_interactions"] for r in b.get_top_interacted_products(24, 1000, now=now)) == 103
