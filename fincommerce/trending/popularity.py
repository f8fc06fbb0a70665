"""Trending as the API answers it: the in-memory index when it covers the timeframe, the store otherwise.

Every path computes the formula in `trending.exact`; this module only decides where the events come
from, keeps the index in step with the store, and validates and logs what callers ask for.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from fincommerce.config import DAY, HOUR, Settings
from fincommerce.debugging import visible_logs
from fincommerce.errors import StoreError, ValidationError
from fincommerce.schema import TIMESTAMP, Interaction, check_finite
from fincommerce.store import Range, Store
from fincommerce.store.event_facts import EventFacts
from fincommerce.trending.checkpoint import restore, snapshot
from fincommerce.trending.exact import top_from_events
from fincommerce.trending.index import TrendingIndex
from fincommerce.trending.rising import RisingIndex, RisingSettings, rising_top
from fincommerce.trending.sync import TREND_FIELDS, StoreFeed, columns

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 300.0  # a killed process costs the next open a read of at most this much logging


def _timeframe_seconds(hours: object) -> float:
    seconds = check_finite("timeframe_hours", hours, minimum=0.0) * HOUR
    if seconds <= 0:
        raise ValidationError("timeframe_hours", "a number > 0", hours)
    return seconds


class Popularity:
    """get_top_interacted_products and popularity_scores over one interactions collection."""

    def __init__(self, store: Store, collection: str, settings: Settings, lock: threading.RLock,
                 facts: EventFacts | None = None) -> None:
        self.store = store
        self.collection = collection
        self.settings = settings
        self.index = TrendingIndex.from_settings(settings)
        self.feed = StoreFeed(store, collection, self.index, facts=facts)
        self.rising_index = RisingIndex.following(self.index,
                                                  RisingSettings(baseline_hours=self.index.window / HOUR))
        self._checkpoint = f"{collection}.trending.npz"
        self._lock = lock
        self._synced_at = 0.0
        self._saved_at = time.monotonic()
        self.checkpoint_seconds = CHECKPOINT_SECONDS
        self._stale = False

    def newest(self) -> float | None:
        """Time of the newest stored event; None for an empty store."""
        return self.feed.newest()

    def oldest(self) -> float | None:
        return self.feed.first_time(descending=False)

    def rebuild(self) -> None:
        """Reload the index from the store (exactly what an in-process run would hold): from the checkpoint
        the last close saved plus the events after it when there is one, else by reading the live window."""
        tracking = bool(self.settings.qdrant_url)
        with self._lock:
            saved = self.store.read_blob(self._checkpoint)
            if saved is not None and restore(self.feed, saved):
                read = self.feed.refresh(check=True)  # a change before the saved cut makes this a full read
                self.feed.tracking = tracking
            else:
                read = self.feed.load(tracking=tracking)
            self._synced_at = time.monotonic()
            self._stale = False
            if read:
                self.save()  # what was read is read once: a crash from here on costs only what comes after

    def save(self) -> None:
        """Checkpoint the index beside the store (embedded store only), so the next open skips the full read.
        Saved on close, after a full read and every `checkpoint_seconds` of logging, so even after kill -9 the
        next open reads only the events since the last save."""
        with self._lock:
            try:
                if not self.settings.qdrant_url and not self._stale:
                    self.store.write_blob(self._checkpoint, snapshot(self.feed))
                    self._saved_at = time.monotonic()
            except StoreError as exc:
                log.warning("Trending checkpoint not saved (the next open reads the store instead): %s", exc)

    def resync(self) -> None:
        """After a failed write: re-read the store now, or as soon as it can be read again."""
        try:
            self.rebuild()
        except StoreError:
            self._stale = True

    def on_events(self, events: Sequence[Interaction], vectors: np.ndarray) -> None:
        """Listener of the event log: every stored event counts at once."""
        self.index.add([e.timestamp for e in events], [e.product_id for e in events],
                       [e.interaction_type for e in events], [e.categories for e in events])
        self.feed.note(events)
        if time.monotonic() - self._saved_at >= self.checkpoint_seconds:
            self.save()

    def _catch_up(self) -> None:
        """Other processes may write to a shared server: read their new events at most every refresh_seconds."""
        if self._stale:
            self.rebuild()
        elif self.settings.qdrant_url and time.monotonic() - self._synced_at >= self.settings.refresh_seconds:
            with self._lock:
                self.feed.refresh()
                self._synced_at = time.monotonic()

    def top(self, timeframe_hours: float = 24, top_k: int = 10, debug: bool = False, *,
            now: float | None = None, category: str | None = None) -> list[dict]:
        """Exact time-decayed trending; see `fincommerce.trending.exact` for the semantics."""
        with visible_logs(debug):
            return self._top(timeframe_hours, top_k, debug, now, category)

    def _top(self, timeframe_hours: float, top_k: int, debug: bool, now: float | None,
             category: str | None) -> list[dict]:
        timeframe = _timeframe_seconds(timeframe_hours)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 100_000:
            raise ValidationError("top_k", "an integer between 1 and 100000", top_k)
        if category is not None and (not isinstance(category, str) or not category.strip()):
            raise ValidationError("category", "a non-empty string or None", category)
        now = time.time() if now is None else check_finite("now", now)
        self._catch_up()
        if debug:
            log.info("🔍 Fetching popular products (last %gh, top %d)", timeframe_hours, top_k)
        if self.index.covers(now - timeframe):
            rows = self.index.top(now, timeframe, top_k, category)
            if debug:
                log.info("Found %d interactions in timeframe", self.index.count_in_window(now, timeframe, category))
        else:
            rows = self._from_store(now, timeframe, top_k, category)
        if not rows:
            reason = self.empty_reason(now, timeframe_hours)
            log.warning("No interactions found in timeframe%s", f" ({reason})" if reason else "")
        elif debug:
            log.info("📊 Top %d popular products:", len(rows))
            for i, r in enumerate(rows, 1):
                log.info("  #%d: product_id=%s, interactions=%d, popularity=%.3f", i, r["product_id"],
                         r["total_interactions"], r["weighted_popularity_score"])
        return rows

    def rising(self, timeframe_hours: float = 2, top_k: int = 10, debug: bool = False, *, now: float | None = None,
               category: str | None = None, min_events: int = 2) -> list[dict]:
        """Products significantly above their own baseline (`fincommerce.trending.rising`)."""
        with visible_logs(debug):
            now = time.time() if now is None else check_finite("now", now)
            self._catch_up()
            rows = rising_top(self.rising_index, now, timeframe_hours, top_k, category, min_events, debug)
            if not rows:
                reason = self.empty_reason(now, timeframe_hours)
                log.info("Nothing is rising significantly in the last %g h%s", timeframe_hours,
                         f" ({reason})" if reason else "")
            return rows

    def _from_store(self, now: float, timeframe: float, top_k: int | None, category: str | None) -> list[dict]:
        where = [Range(TIMESTAMP, gte=now - timeframe, lte=now)]
        rows = [r.payload for r in self.feed.facts.scroll(where, TREND_FIELDS)]
        log.info("Found %d interactions in timeframe (read from the store)", len(rows))
        t, pids, types, cats = columns(rows)
        return top_from_events(np.array(t), pids, types, cats, now, timeframe, self.index.weights,
                               self.index.half_lives, top_k, category)

    def scores(self, product_ids: Sequence[str], *, now: float | None = None,
               timeframe_hours: float | None = None) -> dict[str, float]:
        """{product_id: 0–1}; 0.0 for products never seen (cold start)."""
        if isinstance(product_ids, (str, bytes)) or not isinstance(product_ids, Sequence) or \
                not all(isinstance(p, str) for p in product_ids):
            raise ValidationError("product_ids", "a list of product id strings", product_ids)
        now = time.time() if now is None else check_finite("now", now)
        timeframe = _timeframe_seconds(self.settings.trending_window_hours if timeframe_hours is None
                                       else timeframe_hours)
        self._catch_up()
        if self.index.covers(now - timeframe):
            values = self.index.popularity(list(product_ids), now, timeframe)
            return dict(zip(product_ids, map(float, values)))
        table = {r["product_id"]: r["weighted_popularity_score"] for r in self._from_store(now, timeframe, None, None)}
        return {p: float(table.get(p, 0.0)) for p in product_ids}

    def empty_reason(self, now: float | None, timeframe_hours: float) -> str:
        """One line for a window that ends after the data does ("" when that is not why it is empty)."""
        newest = self.newest()
        now = time.time() if now is None else now
        if newest is None or newest >= now - timeframe_hours * HOUR:
            return ""
        when = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (f"the newest stored event is from {when}, {(now - newest) / DAY:.1f} days before the time asked; "
                f"look at the data as of then with now='latest' (CLI: --now latest)")

    def n_products_in_window(self, now: float) -> int:
        window = self.index.window
        return int((self.index.scores(now, window)[1] > 0).sum()) if self.index.covers(now - window) else 0
