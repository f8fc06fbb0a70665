"""How an event is stored: its own facts on the point, what it shares with other events stored once.

Building a qdrant_edge.Point converts every payload value (~1.5 µs an int, ~3 µs a float, ~4.5 µs a string,
~13 µs a list of two strings), and that conversion bounded logging at ~14.5k events/s with eleven keys per
event. What a product, an interaction type and a query make of an event (product id, name, brand,
categories, price, type, weight, query: "its facts") repeats across events, so each distinct set of facts is
one point of `<interactions>_facts`, and an event carries only event_id, user_id, timestamp (indexed, filtered
on) and `facts`, the int key of its facts. Readers get full payloads back through `expand`. The facts are
those of the moment the event was logged (a product's later price change or a product missing from the
catalogue changes nothing). Events written before carry all eleven keys and are read as they are.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from fincommerce.errors import StoreError
from fincommerce.schema import EVENT_ID, TIMESTAMP, USER_ID, Interaction
from fincommerce.store.base import PointIn, Record, Store, Where

FACTS = "facts"  # the payload key of an event's facts
OWN_FIELDS = (EVENT_ID, USER_ID, TIMESTAMP)  # what each event point carries besides FACTS
FACT_FIELDS = ("product_id", "interaction_type", "weight", "query", "product_name", "brand", "categories", "price")
KEY = "key"  # a facts point's own key, in its payload: a bulk read needs no point ids
PAGE = 20_000
CACHE = 200_000  # facts kept in memory between reads
BULK = 4096  # facts missing from memory in one page beyond which all of them are read at once (if they fit)
Content = tuple[Any, ...]  # one event's facts, in FACT_FIELDS order (categories as a tuple)


def content_of(e: Interaction) -> Content:
    return (e.product_id, e.interaction_type, e.weight, e.query, e.product_name, e.brand, e.categories, e.price)


def stored_content(payload: dict[str, Any]) -> Content:
    """The facts of a stored facts point, comparable with `content_of`."""
    p = payload
    return (p["product_id"], p["interaction_type"], float(p["weight"]), p.get("query", ""), p.get("product_name", ""),
            p.get("brand", ""), tuple(p.get("categories") or ()), float(p.get("price", 0.0)))


def facts_key(content: Content) -> int:
    """A 63-bit key from the content alone, the same in every process (a stored int converts fastest)."""
    return int.from_bytes(hashlib.blake2b(repr(content).encode("utf-8"), digest_size=8).digest(), "big") >> 1


def facts_point_id(key: int) -> str:
    """The key as a UUID string (what the engine takes as a point id); str(uuid.UUID(int=key)), 10x faster."""
    h = f"{key:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class EventFacts:
    """The facts of one interactions collection: written before the events that use them, read back by key."""

    def __init__(self, store: Store, interactions: str) -> None:
        self.store = store
        self.events = interactions
        self.collection = f"{interactions}_facts"
        store.ensure_collection(self.collection, 0, {})
        self._keys: dict[Content, int] = {}  # facts known to be stored under a key (this process)
        self._facts: dict[int, dict[str, Any]] = {}  # key → facts payload, for reading
        self._too_many = False  # the facts outgrew CACHE: never read all of them at once
        self._views: dict[tuple[str, ...], dict[int, dict[str, Any]]] = {}  # key → the asked fields of its facts

    def payloads(self, events: Sequence[Interaction]) -> list[dict[str, Any]]:
        """The payloads to store for these events; their facts are stored first, so no stored event ever
        points at facts that are not stored (a crash in between leaves only unused facts)."""
        contents = [content_of(e) for e in events]
        if len(self._keys) > CACHE:
            self._keys.clear()
        self._save([c for c in dict.fromkeys(contents) if c not in self._keys])
        keys = self._keys
        return [{EVENT_ID: e.event_id, USER_ID: e.user_id, TIMESTAMP: e.timestamp, FACTS: keys[c]}
                for e, c in zip(events, contents)]

    def _save(self, new: list[Content]) -> None:
        """Key and store facts not known yet. A key already holding other facts (a hash collision) moves on
        to the next free key: readers only ever go from key to facts."""
        if not new:
            return
        stored: dict[int, Content | None] = {}

        def lookup(keys: list[int]) -> None:
            todo = [k for k in keys if k not in stored]
            found = {r.id: r.payload for r in self.store.retrieve(self.collection, [facts_point_id(k) for k in todo])}
            for k in todo:
                payload = found.get(facts_point_id(k))
                stored[k] = None if payload is None else stored_content(payload)

        for start in range(0, len(new), 1024):
            part = new[start:start + 1024]
            lookup([facts_key(c) for c in part])
            write: dict[int, Content] = {}
            for c in part:
                k = facts_key(c)
                while write.get(k, c) != c or stored.get(k, c) not in (None, c):
                    k = (k + 1) & (2**63 - 1)
                    lookup([k])
                if stored[k] is None:
                    write[k] = c
                self._keys[c] = k
            self.store.upsert(self.collection, [PointIn(facts_point_id(k), None, {**dict(zip(FACT_FIELDS, c)), KEY: k})
                                                for k, c in write.items()])
            for k, c in write.items():
                self._facts[k] = dict(zip(FACT_FIELDS, (*c[:6], list(c[6]), c[7])))

    def wanted(self, fields: Sequence[str] | None) -> list[str] | None:
        """The stored keys to read for these payload fields (None: all)."""
        if fields is None:
            return None
        out = list(dict.fromkeys(fields))
        return [*out, FACTS] if any(f in FACT_FIELDS for f in out) else out

    def expand(self, payloads: Sequence[dict[str, Any]], fields: Sequence[str] | None = None) -> None:
        """Put each event's facts back into its payload (in place; only the asked `fields` of them, so a
        bulk read holds no more than it asked for); payloads of older events stay as they are."""
        keys = {p[FACTS] for p in payloads if FACTS in p}
        if not keys:
            return
        if len(self._facts) > CACHE:
            self._facts.clear()
            self._views.clear()
        known = {k: f for k in keys if (f := self._facts.get(k)) is not None}
        missing = [k for k in keys if k not in known]
        if len(missing) > BULK and not self._too_many:  # most are wanted: all at once, ~2x faster than by key
            self._too_many = self.store.count(self.collection) > CACHE
            if not self._too_many:
                for facts in self.store.payloads(self.collection):
                    self._facts[facts.pop(KEY)] = facts
                known.update((k, f) for k in missing if (f := self._facts.get(k)) is not None)
                missing = [k for k in keys if k not in known]
        for start in range(0, len(missing), 1024):
            part = {facts_point_id(k): k for k in missing[start:start + 1024]}
            for r in self.store.retrieve(self.collection, list(part)):
                r.payload.pop(KEY, None)
                known[part[r.id]] = self._facts[part[r.id]] = r.payload
        if len(known) < len(keys):
            raise StoreError(f"{len(keys) - len(known)} facts used by events of {self.events!r} are missing from "
                             f"{self.collection!r}: was that collection deleted or replaced?")
        asked = tuple(f for f in FACT_FIELDS if fields is None or f in fields)
        if asked != FACT_FIELDS:  # each key's facts cut to the asked fields once, not once per event
            view = self._views.setdefault(asked, {})
            for k in known.keys() - view.keys():
                view[k] = {f: known[k][f] for f in asked}
            known = view
        for p in payloads:
            k = p.pop(FACTS, None)
            if k is not None:
                p.update(known[k])

    def records(self, records: Iterable[Record], fields: Sequence[str] | None = None,
                page: int = PAGE) -> Iterator[Record]:
        """These records with their payloads expanded, a page at a time."""
        it = iter(records)
        while chunk := list(islice(it, page)):
            self.expand([r.payload for r in chunk], fields)
            yield from chunk

    def scroll(self, where: Where = (), fields: Sequence[str] | None = None, *, with_vectors: bool = False,
               batch_size: int = 2048) -> Iterator[Record]:
        """Store.scroll of the events with full payloads."""
        return self.records(self.store.scroll(self.events, where, fields=self.wanted(fields), with_vectors=with_vectors,
                                              batch_size=batch_size), fields)

    def read(self, where: Where = (), fields: Sequence[str] | None = None,
             batch_size: int = PAGE) -> Iterator[dict[str, Any]]:
        """Store.payloads of the events (unordered, no ids), expanded."""
        it = self.store.payloads(self.events, where, self.wanted(fields), batch_size=batch_size)
        while chunk := list(islice(it, batch_size)):
            self.expand(chunk, fields)
            yield from chunk

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[Record]:
        found = self.store.retrieve(self.events, ids, with_vectors=with_vectors)
        self.expand([r.payload for r in found])
        return found
