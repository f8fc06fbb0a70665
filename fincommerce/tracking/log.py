"""The event log: validate, embed and store interactions, then tell the indexes what was written."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.embedding import DIMENSION, Embedder
from fincommerce.errors import StoreError, ValidationError
from fincommerce.schema import EVENT_ID, INTERACTION_TYPE, TIMESTAMP, USER_ID, Interaction
from fincommerce.store import PointIn, Store, event_point_id
from fincommerce.store.event_facts import EventFacts
from fincommerce.store.ids import INTERACTION_INDEXES, event_point_ids
from fincommerce.tracking.events import batch_event_ids, behaviour_texts, build_interaction, event_from_dict
from fincommerce.tracking.shared_vectors import SharedVectors

log = logging.getLogger(__name__)

EMBED_ROUND = 8192  # events whose new texts go to the model in one call
UPSERT_CHUNK = 2048  # events per store write


class Listener(Protocol):
    """An index fed by the log: told every stored event, and told to re-read the store after a failed write."""

    def on_events(self, events: Sequence[Interaction], vectors: np.ndarray) -> None: ...

    def resync(self) -> None: ...


class EventLog:
    """One interactions collection; listeners (trending, behaviour) see exactly the newly stored events."""

    def __init__(self, store: Store, embedder: Embedder, collection: str, weights: Mapping[str, float],
                 lock: threading.RLock, listeners: Sequence[Listener] = (),
                 shared: SharedVectors | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.collection = collection
        self.weights = dict(weights)
        self.listeners = list(listeners)
        self._lock = lock
        self.shared = shared or SharedVectors(store, collection)
        self.facts: EventFacts = self.shared.facts
        store.ensure_collection(collection, self.shared.event_dimension, INTERACTION_INDEXES)

    def log_one(self, user_id: str, product_payload: Mapping[str, Any], interaction_type: str, query: str = "",
                *, timestamp: float | None = None, event_id: str | None = None) -> Interaction:
        """Validate, embed and store one event; re-logging the same event_id changes nothing."""
        event = build_interaction(self.weights, user_id, product_payload, interaction_type, query,
                                  timestamp=timestamp, event_id=event_id)
        stored = self.write([event], show_progress=False)
        result = stored[0] if stored else self.get(event.event_id)
        log.info("✅ Interaction saved: user=%s, type=%s, product=%s, weight=%.2f", result.user_id,
                 result.interaction_type, result.product_id, result.weight)
        return result

    def log_many(self, events: Sequence[Mapping[str, Any]], *, show_progress: bool = True) -> int:
        """The batch path: validates every row first, then embeds and upserts in chunks. Returns new events."""
        return len(self.write(self.validate(events), show_progress=show_progress))

    def validate(self, events: Sequence[Mapping[str, Any]]) -> list[Interaction]:
        """Every row checked (the error names the row) before anything is written."""
        if not isinstance(events, (list, tuple)):
            raise ValidationError("events", "a list of event dicts", events)
        now, memo = time.time(), {}
        parsed = [event_from_dict(self.weights, e, i, now, memo) for i, e in enumerate(events)]
        given = [isinstance(e, Mapping) and e.get("event_id") is not None for e in events]
        if all(given):
            return parsed
        ids = batch_event_ids(parsed)  # a retried batch gets the same ids: stored events are skipped
        return [e if has_id else replace(e, event_id=eid) for e, has_id, eid in zip(parsed, given, ids)]

    def count(self) -> int:
        return self.store.count(self.collection)

    def table(self) -> pd.DataFrame:
        """Every stored event's payload, one row each, oldest first."""
        columns = list(Interaction.__dataclass_fields__)
        rows = list(self.facts.read())
        if not rows:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame(rows)
        frame = frame[[c for c in columns if c in frame] + [c for c in frame if c not in columns]]
        return frame.sort_values([TIMESTAMP, EVENT_ID], kind="stable").reset_index(drop=True)

    def activity(self) -> pd.DataFrame:
        """Events, purchases and last activity per user, most active first."""
        rows = list(self.facts.read(fields=[USER_ID, INTERACTION_TYPE, TIMESTAMP]))
        if not rows:
            return pd.DataFrame(columns=["events", "purchases", "last"])
        frame = pd.DataFrame(rows)
        table = frame.groupby(USER_ID).agg(events=(TIMESTAMP, "size"),
                                           purchases=(INTERACTION_TYPE, lambda t: int((t == "purchase").sum())),
                                           last=(TIMESTAMP, "max"))
        table["last"] = pd.to_datetime(table["last"], unit="s", utc=True)
        return table.sort_values(["events", "purchases"], ascending=False, kind="stable")

    def count_present(self, event_ids: Sequence[str]) -> int:
        """How many of these event ids are stored."""
        return int(self.stored(event_ids).sum())

    def stored(self, event_ids: Sequence[str]) -> np.ndarray:
        """Which of these events are stored, as a mask: one id-only read per 10,000 events."""
        return self.stored_points(event_point_ids(event_ids))

    def stored_points(self, ids: Sequence[str]) -> np.ndarray:
        """`stored` of events given by their point ids."""
        found: set[str] = set()
        for start in range(0, len(ids), 10_000):
            found |= self.store.present(self.collection, ids[start:start + 10_000])
        return np.fromiter((i in found for i in ids), bool, count=len(ids))

    def get(self, event_id: str) -> Interaction:
        found = self.facts.retrieve([event_point_id(event_id)])
        return Interaction.from_payload(found[0].payload)

    def vectors(self, event_ids: Sequence[str]) -> np.ndarray:
        """Stored behaviour vectors aligned with `event_ids` (zeros for unknown ids)."""
        out = np.zeros((len(event_ids), DIMENSION), dtype=np.float32)
        pos = {event_point_id(e): i for i, e in enumerate(event_ids)}
        ids = list(pos)
        for start in range(0, len(ids), 1024):
            found = self.facts.retrieve(ids[start:start + 1024], with_vectors=self.shared.per_event)
            if found:
                out[[pos[r.id] for r in found]] = ([r.vector for r in found] if self.shared.per_event
                                                   else self.shared.for_events([r.payload for r in found]))
        return out

    def write(self, events: list[Interaction], *, show_progress: bool, point_ids: Sequence[str] | None = None,
              unseen: bool = False) -> list[Interaction]:
        """Store events not stored yet (by event id) and hand them to the listeners. Stored events are
        recognised before anything is embedded; each distinct text is embedded once and its vector shared.
        `point_ids` are the events' (`event_point_ids`), when the caller has them; `unseen` says the caller
        has just checked that none is stored or repeated (they are checked again, under the lock, anyway).

        The model reads a whole round's new texts in one call (it batches them by length), then the round is
        stored in chunks: late in a long log most texts are known, and calls of a few hundred texts ran the
        model ~20 % slower than calls of a few thousand."""
        bar = tqdm(total=len(events), desc="Logging interactions", unit="event",
                   disable=not show_progress or len(events) < 2)
        written: list[Interaction] = []
        for start in range(0, len(events), EMBED_ROUND):
            chunk = events[start:start + EMBED_ROUND]
            ids = (list(point_ids[start:start + EMBED_ROUND]) if point_ids is not None
                   else event_point_ids([e.event_id for e in chunk]))
            todo = list(range(len(chunk))) if unseen else _first_unseen(ids, self.store.present(self.collection, ids))
            codes, texts = behaviour_texts([chunk[j] for j in todo])
            vectors = self.embedder.encode(texts)  # one row per distinct text
            try:
                self.shared.save(texts, vectors)  # before any event that uses them
            except StoreError as exc:
                raise self._failed(exc, len(written), 0) from None
            per_event = self.shared.per_event  # an older store: a vector per event, one list per distinct text
            shared = [v.tolist() for v in vectors] if per_event else [None] * len(texts)
            coded = np.asarray(codes, dtype=np.int64)
            for part in range(0, len(todo), UPSERT_CHUNK):
                written.extend(self._store(chunk, ids, todo[part:part + UPSERT_CHUNK], coded[part:part + UPSERT_CHUNK],
                                           vectors, shared, len(written)))
            bar.update(len(chunk))
        bar.close()
        return written

    def _failed(self, exc: StoreError, n_written: int, n_round: int) -> StoreError:
        for listener in self.listeners:  # the indexes follow what the store really holds
            listener.resync()
        return StoreError(
            f"{exc} — {n_written} events of this batch were stored before this round; the {n_round} events of "
            "the failed round may be partly stored. Logging the same batch again is safe: event ids are "
            "deterministic, stored events are skipped.")

    def _store(self, chunk: list[Interaction], ids: list[str], todo: list[int], codes: np.ndarray,
               vectors: np.ndarray, shared: list[list[float] | None], n_written: int) -> list[Interaction]:
        """Events `todo` of the chunk; codes[k] is the row of todo[k]'s sentence in `vectors` and `shared`."""
        with self._lock:  # another thread may have stored some of them meanwhile
            stored = self.store.present(self.collection, [ids[j] for j in todo])
            keep = [k for k, j in enumerate(todo) if ids[j] not in stored]
            new = [chunk[todo[k]] for k in keep]
            try:
                payloads = self.facts.payloads(new)  # the facts they share are stored first
                self.store.upsert(self.collection, [PointIn(ids[todo[k]], shared[codes[k]], p)
                                                    for k, p in zip(keep, payloads)])
            except StoreError as exc:
                raise self._failed(exc, n_written, len(new)) from None
            for listener in self.listeners:
                listener.on_events(new, vectors[codes[keep]])
        return new


def _first_unseen(ids: list[str], stored: set[str]) -> list[int]:
    """Positions of ids neither stored nor seen earlier in the list."""
    seen = set(stored)
    out = []
    for j, pid in enumerate(ids):
        if pid not in seen:
            seen.add(pid)
            out.append(j)
    return out
