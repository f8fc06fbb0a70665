"""The clock a question is asked at: the wall clock, a moment in the data, or the newest stored event.

Simulated or imported data ends on its own day; looking at it later needs "as of" a time in it.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from fincommerce.errors import ValidationError

LATEST = "latest"
EXPECTED = "unix seconds, an ISO 8601 date/time (2026-11-10, 2026-11-10T14:00Z), 'latest' or empty"


def parse_now(value: Any, newest: float | None) -> float | None:
    """Unix seconds for `value`; None means the wall clock. 'latest' is the newest stored event (`newest`)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().lower() == LATEST:
        return newest
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValidationError("now", EXPECTED, value)
        return float(value)
    if not isinstance(value, str):
        raise ValidationError("now", EXPECTED, value)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ValidationError("now", EXPECTED, value) from None
    if stamp is pd.NaT:
        raise ValidationError("now", EXPECTED, value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.timestamp()
