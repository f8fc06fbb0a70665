"""The clock a question is asked at: the wall clock, a moment in the data, or the newest stored event.

Simulated or imported data ends on its own day; looking at it later needs "as of" a time in it.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from fincommerce.errors import ValidationError

LATEST = "latest"
EXPECTED = ("unix seconds, an ISO 8601 date/time (2026-11-10, 2026-11-10T14:00Z), 'latest' or empty, "
            "from 1970 to 9999")
LAST_CLOCK = 253_402_300_799.0  # 9999-12-31T23:59:59Z: the last moment an ISO 8601 date can name


def parse_now(value: Any, newest: float | None) -> float | None:
    """Unix seconds for `value`; None means the wall clock. 'latest' is the newest stored event (`newest`)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().lower() == LATEST:
        return newest
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValidationError("now", EXPECTED, value)
    try:
        seconds = float(value)
    except ValueError:
        seconds = _iso_seconds(value)
    if not (math.isfinite(seconds) and 0 <= seconds <= LAST_CLOCK):  # "nan", "inf", "1e300", "-1" as text too
        raise ValidationError("now", EXPECTED, value)
    return seconds


def _iso_seconds(value: str) -> float:
    try:
        stamp = pd.Timestamp(value.strip())
    except (ValueError, TypeError, OverflowError):
        raise ValidationError("now", EXPECTED, value) from None
    if stamp is pd.NaT:
        raise ValidationError("now", EXPECTED, value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.timestamp()
