"""log_interaction / log_interactions: payloads, idempotency, validation that writes nothing."""
from __future__ import annotations

import logging
import math
import threading
import time

import numpy as np
import pytest
from conftest import HOUR, PRODUCTS

from fincommerce import Settings, ValidationError, Workbench
from fincommerce.tracking import behaviour_text

MBP = {"id": "prod_123", "name": "MacBook Pro", "brand": "Apple", "price": 1299, "categories": ["Laptops"]}


def test_log_interaction_stores_the_seed_payload(wb: Workbench, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        stored = wb.log_interaction("demo_professional", MBP, "purchase", "machine learning laptop")
    assert "Interaction saved: user=demo_professional, type=purchase, product=prod_123, weight=1.00" in caplog.text
    assert behaviour_text(stored) == "user purchased Apple MacBook Pro price 1299 for machine learning laptop"
    [raw] = list(wb.store.scroll(wb.interactions))  # the event's own keys; what it shares is stored once
    assert sorted(raw.payload) == ["event_id", "facts", "timestamp", "user_id"]
    [p] = wb.events.table().to_dict("records")  # the seed's payload, read back whole
    assert (p["user_id"], p["product_id"], p["interaction_type"], p["weight"]) == (
        "demo_professional",
        "prod_123",
        "purchase",
        1.0,
    )
    assert abs(p["timestamp"] - time.time()) < 60 and p["brand"] == "Apple" and p["price"] == 1299
    expected = wb.embedder.encode_one(behaviour_text(stored))
    assert np.allclose(wb.event_vectors([stored.event_id])[0], expected, atol=1e-5)


def test_product_id_key_and_seed_example_without_price(wb: Workbench) -> None:
    e = wb.log_interaction("test_user", {"product_id": "test_prod", "name": "Test"}, "click", "test")
    assert e.product_id == "test_prod" and e.weight == 0.3
    assert wb.get_top_interacted_products()[0]["product_id"] == "test_prod"


def test_event_id_makes_relogging_idempotent(wb: Workbench) -> None:
    a = wb.log_interaction("u", MBP, "view", event_id="evt-1", timestamp=1_700_000_000)
    b = wb.log_interaction("u", MBP, "view", event_id="evt-1", timestamp=1_700_000_000)
    assert a == b and wb.store.count(wb.interactions) == 1
    assert wb.get_top_interacted_products(now=1_700_000_000)[0]["total_interactions"] == 1


@pytest.mark.parametrize("args, field", [
    (("u", MBP, "like"), "interaction_type"),
    (("u", {"name": "no id"}, "view"), "product_payload.id"),
    (("", MBP, "view"), "user_id"),
    (("   ", MBP, "view"), "user_id"),
    ((42, MBP, "view"), "user_id"),
    (("u", {**MBP, "price": math.nan}, "view"), "product_payload.price"),
    (("u", {**MBP, "price": -1}, "view"), "product_payload.price"),
    (("u", {**MBP, "price": "cheap"}, "view"), "product_payload.price"),
    (("u", MBP, "view", 5), "query"),
])
def test_bad_input_names_the_field_and_writes_nothing(wb: Workbench, args: tuple, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        wb.log_interaction(*args)
    assert err.value.field == field and field in str(err.value)
    assert wb.store.count(wb.interactions) == 0 and wb.trending.n_events == 0


@pytest.mark.parametrize("ts", [math.inf, math.nan, pytest.param(time.time() + 3600, id="an-hour-ahead"), "yesterday"])
def test_bad_timestamps(wb: Workbench, ts: object) -> None:
    with pytest.raises(ValidationError, match="timestamp"):
        wb.log_interaction("u", MBP, "view", timestamp=ts)
    assert wb.store.count(wb.interactions) == 0


def test_batch_validates_everything_first(wb: Workbench) -> None:
    good = {"user_id": "u", "product_payload": MBP, "interaction_type": "view", "timestamp": 1_700_000_000}
    with pytest.raises(ValidationError, match=r"events\[1\]\.interaction_type"):
        wb.log_interactions([good, {**good, "interaction_type": "stare"}], show_progress=False)
    assert wb.store.count(wb.interactions) == 0
    events = [{**good, "event_id": f"e{i}", "product_payload": PRODUCTS[i % len(PRODUCTS)],
               "timestamp": 1_700_000_000 + i} for i in range(100)]
    assert wb.log_interactions(events, show_progress=False) == 100
    assert wb.log_interactions(events, show_progress=False) == 0  # idempotent
    assert wb.store.count(wb.interactions) == 100


def test_rebuild_from_store_equals_incremental_state(settings: Settings, embedder) -> None:
    rng = np.random.default_rng(3)
    base = 1_700_000_000.0
    events = [{"user_id": f"u{rng.integers(0, 9)}", "product_payload": PRODUCTS[rng.integers(0, len(PRODUCTS))],
               "interaction_type": ["view", "click", "add_to_cart", "purchase"][rng.integers(0, 4)],
               "timestamp": base + float(rng.uniform(0, 60 * HOUR)), "event_id": str(i)} for i in range(400)]
    with Workbench(settings, embedder=embedder) as wb:
        wb.log_interactions(events, show_progress=False)
        now = base + 60 * HOUR
        live = [wb.get_top_interacted_products(tf, 20, now=now) for tf in (24, 6, 48)]
    with Workbench(settings, embedder=embedder) as wb:
        rebuilt = [wb.get_top_interacted_products(tf, 20, now=now) for tf in (24, 6, 48)]
    assert len(live[0]) > 0
    for a, b in zip(rebuilt, live):
        assert [(r["product_id"], r["total_interactions"], r["last_interaction_timestamp"]) for r in a] == \
               [(r["product_id"], r["total_interactions"], r["last_interaction_timestamp"]) for r in b]
        assert [r["raw_score"] for r in a] == pytest.approx([r["raw_score"] for r in b], rel=1e-9)


def test_concurrent_logging_is_exact(wb: Workbench) -> None:
    def work(t: int) -> None:
        for i in range(50):
            wb.log_interaction(f"user{t}", PRODUCTS[i % 4], "click", "same query", timestamp=1_700_000_000 + i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wb.store.count(wb.interactions) == 200
    rows = wb.get_top_interacted_products(now=1_700_000_100)
    assert sum(r["total_interactions"] for r in rows) == 200
