"""The event table's columns and the vectorised checks one chunk of rows goes through, whatever the file."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.bad_rows import BadRow
from fincommerce.tracking.rees46 import EVENT_TYPE_MAP, MAX_FUTURE_SECONDS, MIN_EVENT_TIME, SKIPPED_EVENT_TYPES
from fincommerce.tracking.values import blank, seconds_of, shown

REQUIRED = ("user_id", "product_id", "interaction_type", "timestamp")
OPTIONAL = ("session_id", "query", "price", "brand", "category", "name")
COLUMNS = REQUIRED + OPTIONAL
TEXT_COLUMNS = tuple(c for c in COLUMNS if c not in ("timestamp", "price"))
# REES46 as one mapping of the table (what its parser reads; `cart` → add_to_cart, remove_from_cart skipped).
REES46_COLUMNS = {"event_time": "timestamp", "event_type": "interaction_type", "user_session": "session_id",
                  "category_code": "category"}
DEFAULT_TYPES = {**{t: t for t in INTERACTION_TYPES}, **EVENT_TYPE_MAP}
# (mask of rows, field, reason for row i): the checks a chunk's rows go through, first failing one names the row
Check = tuple[np.ndarray, str, Callable[[int], str]]


def validate_chunk(cols: dict[str, np.ndarray], lines: np.ndarray, types: Mapping[str, str] | None,
                   skipped: dict[str, int], bad: list[BadRow], invalid: list[Check] = ()) -> pd.DataFrame:
    """One chunk, vectorised; the first failing check names each bad row (skipped types are counted).
    `invalid` are checks the reader already made (values that are not one scalar): they come first."""
    n = len(lines)
    raw_type = pd.Series(cols["interaction_type"], dtype=object).astype(str).to_numpy(dtype=object)
    mapped = pd.Series(raw_type).map({**DEFAULT_TYPES, **(types or {})}).to_numpy(dtype=object)
    skip = np.isin(raw_type, SKIPPED_EVENT_TYPES) & pd.isna(mapped)
    for t, k in zip(*np.unique(raw_type[skip], return_counts=True), strict=True):
        skipped[str(t)] = skipped.get(str(t), 0) + int(k)
    seconds = seconds_of(cols["timestamp"])
    price = pd.to_numeric(pd.Series(cols.get("price", np.full(n, np.nan))), errors="coerce").to_numpy(float)
    has_price = "price" in cols
    checks: list[Check] = [
        *invalid,
        (pd.isna(mapped) & ~skip, "interaction_type",
         lambda i: f"unknown {raw_type[i]!r} (expected {', '.join(INTERACTION_TYPES)} or a mapping)"),
        (blank(cols["user_id"]), "user_id", lambda i: "empty"),
        (blank(cols["product_id"]), "product_id", lambda i: "empty"),
        (np.isnan(seconds), "timestamp",
         lambda i: f"expected ISO 8601 or unix seconds, got {shown(cols['timestamp'][i])}"),
        ((seconds < MIN_EVENT_TIME) | (seconds > time.time() + MAX_FUTURE_SECONDS), "timestamp",
         lambda i: f"{shown(cols['timestamp'][i])} is outside 2000-01-01 UTC .. 5 minutes from now"),
        (has_price & ~(np.isfinite(price) & (price >= 0)) & ~blank(cols.get("price", np.full(n, ""))), "price",
         lambda i: f"expected a non-negative number, got {shown(cols['price'][i])}"),
    ]
    keep = ~skip
    for mask, name, reason in checks:
        bad.extend(BadRow(int(lines[i]), f"{name}: {reason(i)}") for i in np.flatnonzero(keep & mask))
        keep &= ~mask
    frame = pd.DataFrame({c: (cols[c][keep] if c in cols else np.full(int(keep.sum()), "", dtype=object))
                          for c in TEXT_COLUMNS})
    frame["interaction_type"] = mapped[keep]
    frame["timestamp"] = seconds[keep]
    frame["price"] = price[keep]
    return typed(frame)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical text columns: a 10M-row log repeats ids and names heavily."""
    out = frame[list(COLUMNS)].copy()
    for c in TEXT_COLUMNS:
        out[c] = out[c].astype(str).astype("category")
    out["timestamp"] = out["timestamp"].astype("float64")
    out["price"] = out["price"].astype("float64")
    return out


def finish(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if len(parts) == 1:
        frame = parts[0]
    else:
        frame = pd.DataFrame({c: (union_categoricals([p[c] for p in parts]) if c in TEXT_COLUMNS
                                  else np.concatenate([p[c].to_numpy() for p in parts])) for c in COLUMNS})
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
