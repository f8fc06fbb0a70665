"""One stored vector per distinct behaviour sentence, shared by every event that has that sentence.

A month of events repeats its sentences (same product, price, query and type): storing a 384-d vector
per event cost ~1.9 KB of RAM and ~2.5 KB of disk per event. Events now carry only their payload (a
payload-only collection) and each sentence's vector is stored once in `<interactions>_texts`, read back by
recomputing the sentence from the event's payload. A store written before this (its events carry vectors
and it has no texts collection) keeps working the old way, one vector per event.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from fincommerce.embedding import DIMENSION
from fincommerce.schema import Interaction
from fincommerce.store import PointIn, Store, Where, point_id
from fincommerce.store.event_facts import EventFacts
from fincommerce.store.ids import point_ids
from fincommerce.tracking.events import behaviour_text

TEXT_FIELDS = ["interaction_type", "product_name", "brand", "price", "query"]  # what the sentence is made of
PAGE = 20_000
CACHE = 200_000  # vectors kept between pages of one read (~300 MB at most)


def text_of(payload: dict[str, Any]) -> str:
    """The behaviour sentence of a stored event's payload (the one that was embedded when it was logged)."""
    return behaviour_text(Interaction(
        "", "", "", payload["interaction_type"], 0.0, 0.0, payload.get("query") or "",
        payload.get("product_name", ""), payload.get("brand", ""), (), float(payload.get("price") or 0.0)))


def text_point_id(text: str) -> str:
    return point_id(f"text:{text}")


def text_point_ids(texts: Sequence[str]) -> list[str]:
    return point_ids(texts, "text:")


class SharedVectors:
    """The behaviour vectors of one interactions collection, wherever they are stored."""

    def __init__(self, store: Store, interactions: str, facts: EventFacts | None = None) -> None:
        self.store = store
        self.events = interactions
        self.collection = f"{interactions}_texts"
        existing = store.collections()
        self.per_event = interactions in existing and self.collection not in existing  # an older store
        if not self.per_event:
            store.ensure_collection(self.collection, DIMENSION, {})
        self.event_dimension = DIMENSION if self.per_event else 0
        self._known: set[str] = set()  # sentences known to be stored (checked once per process)
        self.facts = facts or EventFacts(store, interactions)  # events' payloads are read through it

    def save(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of sentences not stored yet. Called before the events that use them are written,
        so every stored event's sentence has its vector (a crash in between leaves only unused vectors)."""
        if self.per_event or not len(texts):
            return
        if len(self._known) > CACHE:  # bounded: a sentence forgotten is only checked again
            self._known.clear()
        todo = [k for k, t in enumerate(texts) if t not in self._known]
        if not todo:
            return
        ids = text_point_ids([texts[k] for k in todo])
        stored = self.store.present(self.collection, ids)
        new = [(i, k) for i, k in zip(ids, todo) if i not in stored]
        self.store.upsert(self.collection, [PointIn(i, vectors[k], {"text": texts[k]}) for i, k in new])
        self._known.update(texts[k] for k in todo)

    def lookup(self, texts: Sequence[str], cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Stored vectors of these sentences (zeros for a sentence never stored)."""
        cache = {} if cache is None else cache
        missing = list({t for t in texts if t not in cache})
        for start in range(0, len(missing), 1024):
            part = missing[start:start + 1024]
            by_id = dict(zip(text_point_ids(part), part))
            for r in self.store.retrieve(self.collection, list(by_id), with_vectors=True):
                cache[by_id[r.id]] = r.vector
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for k, t in enumerate(texts):
            v = cache.get(t)
            if v is not None:
                out[k] = v
        return out

    def scroll(self, where: Where, fields: Sequence[str]) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        """(payload, behaviour vector) of every matching event."""
        if self.per_event:
            for r in self.facts.scroll(where, list(fields), with_vectors=True):
                yield r.payload, r.vector
            return
        wanted = list(dict.fromkeys([*fields, *TEXT_FIELDS]))
        cache: dict[str, np.ndarray] = {}
        page: list[dict[str, Any]] = []
        for payload in self.facts.read(where, wanted, batch_size=PAGE):
            page.append(payload)
            if len(page) == PAGE:
                yield from self._with_vectors(page, cache)
                page = []
        yield from self._with_vectors(page, cache)

    def _with_vectors(self, page: list[dict[str, Any]], cache: dict[str, np.ndarray]
                      ) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        if len(cache) > CACHE:
            cache.clear()
        texts = [text_of(p) for p in page]
        yield from zip(page, self.lookup(texts, cache))

    def for_events(self, payloads: Sequence[dict[str, Any]]) -> np.ndarray:
        return self.lookup([text_of(p) for p in payloads])
