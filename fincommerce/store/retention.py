"""Retention: drop raw events older than every signal's look-back, so a store holds a bounded span.

The age is measured from the newest stored event, not the wall clock: a log imported months later keeps
its last days instead of vanishing. Trending reads `trending_window_hours` back, collaborative and
preference `behaviour_window_days` back; an age below the longer of the two is refused, so every signal
stays exact for any `now` at or after `newest − (age − longest window)`.

The drop is ONE engine operation (a delete by timestamp filter, written to the write-ahead log and
flushed): a kill -9 during it leaves the store as before or as after, never half-compacted. The trending
checkpoint beside the store notices the smaller count below its cut on the next open and reads the window
again, so it never counts a dropped event.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from fincommerce.config import DAY, HOUR, Settings
from fincommerce.errors import ConfigError
from fincommerce.schema import TIMESTAMP
from fincommerce.store.base import Range, Store

log = logging.getLogger(__name__)

_AGE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([dh]?)\s*", re.IGNORECASE)


def parse_age(text: str, field: str = "--older-than") -> float:
    """'30d', '36h' or a bare number of days → seconds."""
    found = _AGE.fullmatch(str(text))
    if not found:
        raise ConfigError(field, "an age like 30d (days) or 36h (hours)", text)
    seconds = float(found.group(1)) * (HOUR if found.group(2).lower() == "h" else DAY)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(field, "an age > 0, like 30d or 36h", text)
    return seconds


@dataclass(frozen=True)
class CompactionPlan:
    """What a compaction of one collection drops: every event with timestamp < cut."""

    collection: str
    older_than: float
    newest: float | None
    cut: float | None
    dropped: int
    kept: int

    def describe(self) -> str:
        if self.cut is None:
            return f"{self.collection}: empty, nothing to drop"
        when = datetime.fromtimestamp(self.cut, UTC).isoformat(timespec="seconds")
        newest = datetime.fromtimestamp(self.newest or 0.0, UTC).isoformat(timespec="seconds")
        return (f"{self.collection}: {self.dropped:,} events before {when} (older than {self.older_than / DAY:g} "
                f"days before the newest event, {newest}) would go; {self.kept:,} stay")


def plan_compaction(store: Store, collection: str, settings: Settings, older_than: float | None = None,
                    field: str = "--older-than") -> CompactionPlan:
    """Count what would go. `older_than` (seconds) defaults to `settings.retention_days`."""
    if older_than is None:
        if settings.retention_days is None:
            raise ConfigError(field, "an age like 30d (retention_days is not set)", None)
        older_than = settings.retention_days * DAY
    if older_than < settings.longest_days * DAY:
        raise ConfigError(field, f"at least the longest signal window, {settings.longest_days:g} days "
                                 "(trending_window_hours, behaviour_window_days)", f"{older_than / DAY:g} days")
    if collection not in store.collections():
        return CompactionPlan(collection, older_than, None, None, 0, 0)
    first = next(store.scroll(collection, order_by=TIMESTAMP, descending=True, limit=1, fields=[TIMESTAMP]), None)
    if first is None:
        return CompactionPlan(collection, older_than, None, None, 0, 0)
    newest = float(first.payload[TIMESTAMP])
    cut = newest - older_than
    dropped = store.count(collection, [Range(TIMESTAMP, lt=cut)])
    return CompactionPlan(collection, older_than, newest, cut, dropped, store.count(collection) - dropped)


def compact(store: Store, plan: CompactionPlan) -> int:
    """Drop what the plan counted (one delete by filter); returns the events dropped."""
    if plan.cut is None or plan.dropped == 0:
        return 0
    store.delete(plan.collection, [Range(TIMESTAMP, lt=plan.cut)])
    log.info("Compacted %s: dropped %d events older than %.0f", plan.collection, plan.dropped, plan.cut)
    return plan.dropped
