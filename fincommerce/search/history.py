"""The behaviour of one interactions collection as of any `now`, read from the store and kept exact."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from fincommerce.config import Settings
from fincommerce.schema import BRAND, CATEGORIES, INTERACTION_TYPE, PRODUCT_ID, TIMESTAMP, USER_ID, Interaction
from fincommerce.search.behaviour import BehaviourEvent, BehaviourIndex
from fincommerce.store import Range, Store, Where


class VectorSource(Protocol):
    """Where events' behaviour vectors come from (stored per event, or shared by identical sentences)."""

    def scroll(self, where: Where, fields: Sequence[str]) -> Iterator[tuple[dict[str, Any], np.ndarray]]: ...


class BehaviourHistory:
    """The behaviour of one interactions collection as of any `now`: exactly the events in [now − window, now].

    One live index follows the clock forward (events leaving the window are read back from the store and
    removed); a `now` with stored events after it (an "as of" in the past) gets its own index, so what one
    caller asks never changes what another sees, and no result looks ahead."""

    AS_OF_CACHE = 4
    AS_OF_EVENTS = 2_000_000  # past indexes kept beyond the newest hold at most this many events (~100 MB)

    def __init__(self, store: Store, collection: str, settings: Settings, lock: threading.RLock,
                 vectors: VectorSource) -> None:
        self.store = store
        self.vectors = vectors
        self.collection = collection
        self.settings = settings
        self.index = BehaviourIndex.from_settings(settings)
        self._lock = lock
        self._built = False
        self._as_of: OrderedDict[float, BehaviourIndex] = OrderedDict()

    def resync(self) -> None:
        with self._lock:
            self._built = False  # the next search re-reads the window from the store
            self._as_of.clear()

    def on_events(self, events: Sequence[Interaction], vectors: np.ndarray) -> None:
        """Listener of the event log (only once built: the first search reads everything anyway)."""
        with self._lock:
            earliest = min((e.timestamp for e in events), default=np.inf)
            for now in [now for now in self._as_of if now >= earliest]:  # a late event inside a past window
                del self._as_of[now]
            if self._built:
                self.index.add(BehaviourEvent(e.user_id, e.product_id, e.interaction_type, e.timestamp, e.brand,
                                              e.categories, v) for e, v in zip(events, vectors))

    def at(self, now: float) -> BehaviourIndex:
        """The index of the behaviour window ending at `now`."""
        with self._lock:
            live, start = self.index, now - self.index.window
            if self._built and now < live.newest:
                return self._past(now)
            if not self._built or start < live.retain_from:
                live.reset(retain_from=start)
                live.add(self._read(start))
                self._built = True
            elif start > live.retain_from:
                live.remove(self._read(live.retain_from, start))
                live.retain_from = start
            return live if now >= live.newest else self._past(now)

    def _past(self, now: float) -> BehaviourIndex:
        index = self._as_of.pop(now, None)
        if index is None:
            index = BehaviourIndex.from_settings(self.settings)
            index.reset(retain_from=now - index.window)
            index.add(self._read(index.retain_from, now, inclusive=True))
        self._as_of[now] = index
        while len(self._as_of) > 1 and (len(self._as_of) > self.AS_OF_CACHE
                                        or sum(i.held_events for i in self._as_of.values()) > self.AS_OF_EVENTS):
            self._as_of.popitem(last=False)  # a month-sized window must not be held four times over
        return index

    def _read(self, start: float, stop: float | None = None, inclusive: bool = False) -> Iterator[BehaviourEvent]:
        """Stored events with start ≤ t < stop (≤ stop when inclusive), with their vectors."""
        where = [Range(TIMESTAMP, gte=start, lte=stop)] if inclusive else [Range(TIMESTAMP, gte=start, lt=stop)]
        records = self.vectors.scroll(where, [USER_ID, PRODUCT_ID, INTERACTION_TYPE, TIMESTAMP, BRAND, CATEGORIES])
        return (BehaviourEvent(p[USER_ID], p[PRODUCT_ID], p[INTERACTION_TYPE], float(p[TIMESTAMP]), p.get(BRAND, ""),
                               p.get(CATEGORIES) or [], v) for p, v in records)
