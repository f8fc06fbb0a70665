"""Values of a log's columns as the readers need them: unix seconds from ISO 8601 text, numbers or Arrow
timestamps; Parquet columns as numpy scalars; blanks; values shown in a bad row's reason."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

_DATE_RE = r"^\d{4}-\d{2}-\d{2}"
_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def iso_seconds(texts: pd.Series) -> np.ndarray:
    """ISO 8601 stamps (' UTC' accepted, offset-less read as UTC) as float unix seconds, NaN where not one.
    Only text that starts like a date reaches pandas, whose ISO parser raises on some non-dates ("-5")
    even when told to coerce; a value it still cannot take is parsed alone."""
    texts = texts.astype(str).str.strip().str.replace(" UTC", "+00:00", regex=False)
    dated = texts.str.match(_DATE_RE).to_numpy(dtype=bool)
    out = np.full(len(texts), np.nan)
    if dated.any():
        try:
            out[dated] = _stamps_to_seconds(texts[dated])
        except (ValueError, OverflowError):
            for i in np.flatnonzero(dated):
                try:
                    out[i] = _stamps_to_seconds(texts.iloc[i:i + 1])[0]
                except (ValueError, OverflowError):
                    pass
    return out


def _stamps_to_seconds(texts: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce")
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype="float64")


def shown(value: object) -> str:
    """A value in a bad row's reason: text quoted, numbers as numbers (`1e+300`, not `np.float64(1e+300)`)."""
    return repr(value) if isinstance(value, str) else str(value)


def blank(values: np.ndarray) -> np.ndarray:
    """Empty, whitespace-only or missing, decided once per distinct value (ids repeat heavily)."""
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    empty = np.array([not str(v).strip() for v in uniq], dtype=bool)
    return np.where(codes < 0, True, empty[np.maximum(codes, 0)] if len(uniq) else True)


def seconds_of(values: np.ndarray) -> np.ndarray:
    """Unix seconds from numbers, datetimes or ISO 8601 strings (' UTC' accepted; offset-less means UTC);
    NaN where none of these."""
    if np.issubdtype(values.dtype, np.number):
        return values.astype(np.float64)
    if np.issubdtype(values.dtype, np.datetime64):
        return pd.to_datetime(values).as_unit("ns").asi8 / 1e9
    codes, uniq = pd.factorize(pd.Series(values, dtype=object).astype(str).str.strip())
    numeric = pd.to_numeric(pd.Series(uniq), errors="coerce").to_numpy(float)
    out = numeric.copy()
    out[np.isnan(numeric)] = iso_seconds(pd.Series(uniq, dtype=object)[np.isnan(numeric)])
    return out[codes] if len(codes) else np.zeros(0)


def arrow_values(arr: pa.Array) -> tuple[np.ndarray, np.ndarray | None, Callable[[int], str]]:
    """One Parquet column as numpy scalars (timestamps and dates as float unix seconds), with the rows whose
    value cannot be one of ours (nested, non-UTF-8 binary) masked and nulled, and why."""
    kind = arr.type
    if pa.types.is_dictionary(kind):
        return arrow_values(arr.dictionary_decode())
    if pa.types.is_date(kind):
        arr, kind = arr.cast(pa.timestamp("ms")), pa.timestamp("ms")
    if pa.types.is_timestamp(kind):
        ticks = arr.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
        return ticks / _UNITS[kind.unit], None, str
    if pa.types.is_nested(kind):
        mask = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        return np.full(len(arr), None, dtype=object), mask, lambda i: f"expected one value, got a {kind}"
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        raw = arr.to_pylist()
        text, mask = np.full(len(raw), None, dtype=object), np.zeros(len(raw), dtype=bool)
        for i, value in enumerate(raw):
            if value is not None:
                try:
                    text[i] = value.decode("utf-8")
                except UnicodeDecodeError:
                    mask[i] = True
        return text, mask, lambda i: f"expected UTF-8 text, got bytes {raw[i][:20]!r}"
    values = arr.to_numpy(zero_copy_only=False)
    return (values.astype(object) if values.dtype.kind in "SUMmb" else values), None, str
