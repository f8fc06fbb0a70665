"""How events are stored: four keys per event, shared facts once; stores of the layout before read the same."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PRODUCTS

from fincommerce import Settings, Workbench
from fincommerce.embedding import DIMENSION, Embedder
from fincommerce.errors import StoreError
from fincommerce.schema import INTERACTION_TYPES, INTERACTION_WEIGHTS, Interaction
from fincommerce.store import EdgeStore, PointIn, event_point_id
from fincommerce.store import event_facts as ef
from fincommerce.store.event_facts import FACTS, EventFacts
from fincommerce.store.ids import INTERACTION_INDEXES
from fincommerce.tracking.events import behaviour_text, build_interaction
from fincommerce.tracking.shared_vectors import text_point_id

T = 1_700_000_000.0
EVENTS = "interaction_memory"
OUTSIDE = {"id": "outside", "name": "Mystery Gadget", "brand": "Acme", "categories": ["Gadgets", "Toys"],
           "price": 42.5}  # never indexed: its brand and categories come only with its events
BARE = {"product_id": "bare", "name": "Bare thing"}  # no brand, no categories, no price


def _rows(start: int, n: int) -> list[dict]:
    products = [*PRODUCTS, OUTSIDE, BARE]
    return [{"event_id": f"e{i}", "user_id": f"u{i % 3}", "product_payload": products[i % len(products)],
             "interaction_type": INTERACTION_TYPES[i % 4], "query": ["", "laptop", "gift for a runner"][i % 3],
             "timestamp": T - 600 * (60 - i)} for i in range(start, start + n)]


def _write_previous_layout(folder: Path, embedder: Embedder, rows: list[dict]) -> None:
    """What EventLog wrote before the facts were shared: all eleven keys on each payload-only event point,
    each sentence's vector once in `<interactions>_texts`."""
    events = [build_interaction(INTERACTION_WEIGHTS, r["user_id"], r["product_payload"], r["interaction_type"],
                                r["query"], timestamp=r["timestamp"], event_id=r["event_id"]) for r in rows]
    texts = list(dict.fromkeys(behaviour_text(e) for e in events))
    with EdgeStore(folder) as store:
        store.ensure_collection(EVENTS, 0, INTERACTION_INDEXES)
        store.ensure_collection(f"{EVENTS}_texts", DIMENSION, {})
        store.upsert(f"{EVENTS}_texts", [PointIn(text_point_id(t), v, {"text": t})
                                         for t, v in zip(texts, embedder.encode(texts))])
        store.upsert(EVENTS, [PointIn(event_point_id(e.event_id), None, e.payload()) for e in events])


def _answers(wb: Workbench) -> dict:
    table = wb.events.table()
    ids = table["event_id"].tolist()
    return {
        "table": table, "activity": wb.events.activity(), "get": [wb.events.get(e) for e in ids],
        "vectors": wb.event_vectors(ids),
        "trending": [wb.get_top_interacted_products(24, 20, now=T, category=c) for c in (None, "Laptops", "Gadgets")],
        "search": [wb.search_products(u, "laptop for work", top_k=8, debug_mode=True, now=T)
                   for u in ("u0", "u1", "u2")],  # the behaviour signals (preference, collaborative) included
    }


def _assert_same(a: dict, b: dict) -> None:
    pd.testing.assert_frame_equal(a["table"], b["table"])
    pd.testing.assert_frame_equal(a["activity"], b["activity"])
    assert a["get"] == b["get"]
    assert np.array_equal(a["vectors"], b["vectors"]) and np.abs(a["vectors"]).sum(axis=1).min() > 0
    assert _rounded(a["trending"]) == _rounded(b["trending"]) and _rounded(a["search"]) == _rounded(b["search"])


def _rounded(x: object) -> object:
    """Scores to 12 digits: an index built live and one read back from a store add the same terms in
    another order (the last bit differs, with either layout)."""
    if isinstance(x, float):
        return float(f"{x:.12g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_rounded(v) for v in x]
    return x


def test_a_store_of_the_layout_before_opens_and_answers_the_same(tmp_path: Path, embedder: Embedder) -> None:
    _write_previous_layout(tmp_path / "before", embedder, _rows(0, 40))
    with Workbench(Settings(store_path=tmp_path / "before"), embedder=embedder) as old, \
            Workbench(Settings(store_path=tmp_path / "now"), embedder=embedder) as new:
        for wb in (old, new):
            wb.index_products(PRODUCTS, show_progress=False)
        assert new.log_interactions(_rows(0, 40), show_progress=False) == 40
        assert {len(r.payload) for r in old.store.scroll(EVENTS)} == {11}
        assert {len(r.payload) for r in new.store.scroll(EVENTS)} == {4}
        _assert_same(_answers(old), _answers(new))
        assert _answers(new)["trending"][2][0]["product_id"] == "outside"  # its categories, from its events
        for wb in (old, new):  # the old store now holds both layouts
            assert wb.log_interactions(_rows(40, 20), show_progress=False) == 20
        assert sorted(len(r.payload) for r in old.store.scroll(EVENTS)) == [4] * 20 + [11] * 40
        _assert_same(_answers(old), _answers(new))
    with Workbench(Settings(store_path=tmp_path / "before"), embedder=embedder) as reopened, \
            Workbench(Settings(store_path=tmp_path / "now"), embedder=embedder) as new:
        _assert_same(_answers(reopened), _answers(new))


def test_events_keep_the_facts_they_were_logged_with(any_wb: Workbench) -> None:
    """Off-catalogue products keep brand and categories; a later price is a new set of facts, not an edit."""
    any_wb.log_interaction("u", OUTSIDE, "view", "toy", timestamp=T - 10, event_id="a")
    any_wb.log_interaction("u", {**OUTSIDE, "price": 39.0}, "view", "toy", timestamp=T - 5, event_id="b")
    any_wb.log_interaction("u", BARE, "purchase", timestamp=T, event_id="c")
    table = any_wb.events.table()
    assert list(table.columns) == list(Interaction.__dataclass_fields__)
    assert table["price"].tolist() == [42.5, 39.0, 0.0] and table["brand"].tolist() == ["Acme", "Acme", ""]
    assert table["categories"].tolist() == [["Gadgets", "Toys"], ["Gadgets", "Toys"], []]
    assert any_wb.events.get("b").price == 39.0 and any_wb.events.get("c").categories == ()
    assert any_wb.store.count(f"{EVENTS}_facts") == 3
    assert [r["product_id"] for r in any_wb.get_top_interacted_products(1, 5, now=T, category="Toys")] == ["outside"]


@pytest.mark.parametrize("bulk", [0, 4096])  # facts read all at once, or by key
def test_a_hash_collision_moves_to_the_next_key_in_every_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 bulk: int) -> None:
    monkeypatch.setattr(ef, "facts_key", lambda content: 7)
    monkeypatch.setattr(ef, "BULK", bulk)
    events = [Interaction(f"e{i}", "u", f"p{i}", "view", 0.1, T + i, "", f"name {i}", "", (), float(i))
              for i in range(3)]
    with EdgeStore(tmp_path / "s") as store:
        store.ensure_collection(EVENTS, 0, INTERACTION_INDEXES)
        first = EventFacts(store, EVENTS).payloads(events[:2])
        again = EventFacts(store, EVENTS).payloads(events[::-1])  # another process: nothing in memory
        assert [p[FACTS] for p in first] == [7, 8] and [p[FACTS] for p in again] == [9, 8, 7]
        store.upsert(EVENTS, [PointIn(event_point_id(e.event_id), None, p) for e, p in zip(events[::-1], again)])
        read = sorted(EventFacts(store, EVENTS).read(), key=lambda p: p["timestamp"])
        assert [Interaction.from_payload(p) for p in read] == events


def test_an_event_whose_facts_are_missing_is_a_clear_error(tmp_path: Path) -> None:
    with EdgeStore(tmp_path / "s") as store:
        store.ensure_collection(EVENTS, 0, INTERACTION_INDEXES)
        store.upsert(EVENTS, [PointIn(event_point_id("x"), None, {"event_id": "x", "user_id": "u", "timestamp": T,
                                                                   FACTS: 12345})])
        facts = EventFacts(store, EVENTS)
        assert list(facts.read(fields=["timestamp"])) == [{"timestamp": T}]  # needs no facts
        with pytest.raises(StoreError, match="interaction_memory_facts"):
            list(facts.read())


def test_bounded_memories_forget_and_still_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and facts kept in memory are bounded: past the bound they are read from the store again."""
    monkeypatch.setattr(ef, "CACHE", 3)
    monkeypatch.setattr(ef, "BULK", 2)
    events = [Interaction(f"e{i}", "u", f"p{i % 6}", "view", 0.1, T + i, "", f"name {i % 6}", "", ("c",), 1.0)
              for i in range(30)]
    with EdgeStore(tmp_path / "s") as store:
        store.ensure_collection(EVENTS, 0, INTERACTION_INDEXES)
        facts = EventFacts(store, EVENTS)
        for part in (events[:4], events[4:12], events[12:]):
            store.upsert(EVENTS, [PointIn(event_point_id(e.event_id), None, p)
                                  for e, p in zip(part, facts.payloads(part))])
        assert store.count(f"{EVENTS}_facts") == 6
        for reader in (facts, EventFacts(store, EVENTS)):
            for page in (4, 7, 30):
                read = sorted((r.payload for r in reader.records(store.scroll(EVENTS), page=page)),
                              key=lambda p: p["timestamp"])
                assert [Interaction.from_payload(p) for p in read] == events
                assert [p["product_id"] for p in reader.read(fields=["product_id", "timestamp"])] != []
