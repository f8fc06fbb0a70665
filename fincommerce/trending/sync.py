"""Keeping the trending index equal to the store: one read on open, then only what is new.

With a shared Qdrant server other processes write too. Every `refresh_seconds` a worker reads the events
at or after `high − overlap` through the timestamp index (`high`: the newest event it has read), skipping
those it already counted, so workers stay within one refresh interval of each other without rescanning.
An event that reaches the store later than `overlap` after newer ones (say, another worker importing
history) is noticed by counting the events below the cut every `check_every` refreshes (that count is the
one cost that grows with the store), and answered with a full reload.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from fincommerce.schema import CATEGORIES, INTERACTION_TYPE, PRODUCT_ID, TIMESTAMP, Interaction
from fincommerce.store import Range, Store
from fincommerce.store.event_facts import EventFacts
from fincommerce.store.ids import event_point_ids
from fincommerce.trending.index import TrendingIndex

log = logging.getLogger(__name__)

TREND_FIELDS = [PRODUCT_ID, INTERACTION_TYPE, TIMESTAMP, CATEGORIES]
OVERLAP_SECONDS = 30.0  # how late an event may reach the store, after newer ones, and still be read incrementally
CHECK_EVERY = 12  # refreshes between counts below the cut (an exact count over 1M events costs ~0.3 s)


def columns(rows: Sequence[dict[str, Any]]) -> tuple[list[float], list[str], list[str], list[list[str]]]:
    """Stored payloads → the four parallel lists every trending path takes."""
    return ([r[TIMESTAMP] for r in rows], [r[PRODUCT_ID] for r in rows], [r[INTERACTION_TYPE] for r in rows],
            [r.get(CATEGORIES) or [] for r in rows])


class StoreFeed:
    """Reads one collection's events into a TrendingIndex: all it retains on open, increments after it."""

    def __init__(self, store: Store, collection: str, index: TrendingIndex,
                 overlap: float = OVERLAP_SECONDS, facts: EventFacts | None = None) -> None:
        self.store = store
        self.collection = collection
        self.facts = facts or EventFacts(store, collection)  # events' product, type and categories
        self.index = index
        self.overlap = overlap
        self.tracking = False  # True with a shared server: increments are read, own writes remembered
        self.check_every = CHECK_EVERY
        self._refreshes = 0
        self._forget()

    def _forget(self) -> None:
        self.high = -math.inf  # newest event time read (or written here)
        self.cut = -math.inf  # events before this were all counted ...
        self.below = 0  # ... and this many of them are stored
        self.recent: dict[str, float] = {}  # point id → time of the counted events at or after the cut

    def newest(self) -> float | None:
        return self.first_time(descending=True)

    def first_time(self, *, descending: bool) -> float | None:
        """Time of the newest (descending) or oldest stored event, through the timestamp index; None if empty."""
        found = next(self.store.scroll(self.collection, order_by=TIMESTAMP, descending=descending, limit=1,
                                       fields=[TIMESTAMP]), None)
        return None if found is None else float(found.payload[TIMESTAMP])

    def below_count(self, cut: float) -> int:
        """Stored events before `cut` (all of them were read or counted once the cut has passed them)."""
        return self.store.count(self.collection, [Range(TIMESTAMP, lt=cut)]) if math.isfinite(cut) else 0

    def _since(self, cut: float) -> list[Range]:
        return [Range(TIMESTAMP, gte=cut)] if math.isfinite(cut) else []

    def ids_since(self, cut: float) -> dict[str, float]:
        """Point id → time of the stored events at or after `cut`."""
        return {r.id: float(r.payload[TIMESTAMP])
                for r in self.store.scroll(self.collection, self._since(cut), fields=[TIMESTAMP])}

    def resume(self, high: float, cut: float, below: int, recent: dict[str, float]) -> None:
        """Continue from a saved position (the index already holds what it had read)."""
        self.tracking = True
        self.high, self.cut, self.below, self.recent = high, cut, below, dict(recent)

    def load(self, *, tracking: bool) -> int:
        """Reset the index to what a live run holds: the events of the retention (two windows) before the newest."""
        self.tracking = tracking
        self._forget()
        self.index.reset()
        newest = self.newest()
        if newest is None:
            return 0
        start = newest - self.index.retention
        if tracking:  # counted before reading: a write racing with the read can only cause an extra reload
            self.high, self.cut = newest, newest - self.overlap
            self.below = self.below_count(self.cut)
        rows = list(self.facts.read([Range(TIMESTAMP, gte=start)], TREND_FIELDS))
        self.index.add(*columns(rows))
        self.index.retain_from = max(self.index.retain_from, start)
        if tracking:  # the ids of the last `overlap` seconds only: a refresh must not count those twice
            self.recent = self.ids_since(self.cut)
        return len(rows)

    def refresh(self, *, check: bool = False) -> int:
        """Read what other processes stored since the last look; returns the events added to the index."""
        if not self.tracking:
            return 0
        self._refreshes += 1
        check = check or self._refreshes % self.check_every == 0
        stored_below = self.below_count(self.cut) if check else self.below
        records = list(self.facts.scroll(self._since(self.cut), TREND_FIELDS))
        if stored_below != self.below:
            log.info("Events older than %.0f s arrived behind the refresh: reloading trending from the store",
                     self.overlap)
            return self.load(tracking=True)
        fresh = [r for r in records if r.id not in self.recent]
        self.index.add(*columns([r.payload for r in fresh]))
        self.recent.update((r.id, float(r.payload[TIMESTAMP])) for r in fresh)
        self._advance(max((r.payload[TIMESTAMP] for r in fresh), default=self.high))
        return len(fresh)

    def note(self, events: Sequence[Interaction]) -> None:
        """This process's own writes (already in the index): never counted again by a refresh."""
        if not self.tracking or not events:
            return
        for pid, e in zip(event_point_ids([e.event_id for e in events]), events):
            if e.timestamp < self.cut:
                self.below += 1
            else:
                self.recent[pid] = e.timestamp
        self._advance(max(e.timestamp for e in events))

    def _advance(self, newest: float) -> None:
        """Move the cut to the newest time minus the overlap; events left behind it are only counted."""
        self.high = max(self.high, newest)
        cut = self.high - self.overlap
        if cut <= self.cut:
            return
        behind = [k for k, t in self.recent.items() if t < cut]
        for k in behind:
            del self.recent[k]
        self.below += len(behind)
        self.cut = cut
