"""Any event log as columns: CSV (plain or .gz) or Parquet, own or mapped column names, REES46 included.

Analyses and backtests run on this table with pandas/numpy, never through the vector store, so a
10M-event log needs no embeddings. Bad rows are counted by kind, the first ones listed with their line
(CSV) or row (Parquet) number, and never stop the load; a file with no usable row, without a required
column, with two columns for one of ours, or an unknown `types=` target is one error. A file that breaks
part-way (a truncated .gz) gives the rows before the break, and says where (`broken`).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import union_categoricals

from fincommerce.errors import ValidationError
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.importers import product_from_log
from fincommerce.tracking.lines import LINE_TOO_LONG, Break, LogLines, first_line, line_record, split_line
from fincommerce.tracking.rees46 import (
    EVENT_TYPE_MAP,
    MAX_FUTURE_SECONDS,
    MIN_EVENT_TIME,
    SKIPPED_EVENT_TYPES,
    BadRow,
    BadRows,
    detect_layout,
    iso_seconds,
    read_rees46,
)

log = logging.getLogger(__name__)

REQUIRED = ("user_id", "product_id", "interaction_type", "timestamp")
OPTIONAL = ("session_id", "query", "price", "brand", "category", "name")
COLUMNS = REQUIRED + OPTIONAL
TEXT_COLUMNS = tuple(c for c in COLUMNS if c not in ("timestamp", "price"))
# REES46 as one mapping of the table (what its parser reads; `cart` → add_to_cart, remove_from_cart skipped).
REES46_COLUMNS = {"event_time": "timestamp", "event_type": "interaction_type", "user_session": "session_id",
                  "category_code": "category"}
DEFAULT_TYPES = {**{t: t for t in INTERACTION_TYPES}, **EVENT_TYPE_MAP}
CHUNK_ROWS = 200_000  # lines (CSV) or rows (Parquet) validated at a time
_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
# (mask of rows, field, reason for row i): the checks a chunk's rows go through, first failing one names the row
Check = tuple[np.ndarray, str, Callable[[int], str]]


@dataclass
class EventTable:
    """Events sorted by time (text columns categorical, timestamp float unix seconds) and an account of the rest."""

    events: pd.DataFrame
    path: str
    n_rows: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)  # the first MAX_BAD_ROWS_KEPT, by line
    skipped_types: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # the same event twice in the file (REES46 event ids): kept once
    bad_counts: dict[str, int] = field(default_factory=dict)  # every bad row, by kind (BadRow.kind)
    broken: Break | None = None  # a truncated or corrupt file: the rows before this line are in the table

    @property
    def n_bad(self) -> int:
        return sum(self.bad_counts.values())

    def summary(self) -> str:
        first = f"; first: line {self.bad_rows[0].line}: {self.bad_rows[0].reason}" if self.bad_rows else ""
        skipped = ", ".join(f"{n:,} {t}" for t, n in self.skipped_types.items()) or "none"
        broken = f"; the file is {self.broken}" if self.broken else ""
        return (f"{Path(self.path).name}: {self.n_rows:,} rows → {len(self.events):,} events, "
                f"{self.events['user_id'].nunique():,} users, {self.events['product_id'].nunique():,} products; "
                f"skipped types: {skipped}; repeated events: {self.duplicates:,}; bad rows: {self.n_bad:,}{first}"
                f"{broken}")


def read_event_table(path: str | Path, columns: Mapping[str, str] | None = None,
                     types: Mapping[str, str] | None = None) -> EventTable:
    """Load a log. `columns` maps the file's names onto ours ({"ts": "timestamp"}); `types` maps its
    interaction names onto view/click/add_to_cart/purchase (an unmapped name is a bad row)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event log not found: {path}")
    _check_types(types)
    started = time.perf_counter()
    if path.suffix in (".parquet", ".pq"):
        table = _from_parquet(path, columns, types)
    elif columns is None and _is_rees46(path):
        table = _from_rees46(path)
    else:
        table = _from_csv(path, columns, types)
    if table.events.empty:
        kinds = sorted(table.bad_counts.items(), key=lambda kv: -kv[1])[:3]
        why = ", ".join(f"{n:,} bad {k}" for k, n in kinds) or "no data rows"
        skipped = ", ".join(f"{n:,} {t} skipped" for t, n in table.skipped_types.items())
        broken = f"the file is {table.broken}" if table.broken else ""
        first = f" (line {table.bad_rows[0].line}: {table.bad_rows[0].reason})" if table.bad_rows else ""
        raise ValidationError(f"{path.name}", f"an event log with at least one usable row{first}",
                              f"{table.n_rows:,} rows, none usable: " + "; ".join(x for x in (why, skipped, broken)
                                                                                  if x))
    if table.broken:
        log.warning("%s: %s; the %s rows before it were read", path, table.broken, f"{table.n_rows:,}")
    log.info("%s in %.1f s", table.summary(), time.perf_counter() - started)
    return table


def _check_types(types: Mapping[str, str] | None) -> None:
    """Every `types=` target is one of ours, so no unknown type reaches the analyses."""
    if types is None:
        return
    if not isinstance(types, Mapping):
        raise ValidationError("types", "a mapping of the file's interaction names onto ours", types)
    unknown = sorted({str(v) for v in types.values() if v not in INTERACTION_TYPES})
    if unknown:
        raise ValidationError("types", f"targets among {', '.join(INTERACTION_TYPES)}", unknown)


def _is_rees46(path: Path) -> bool:
    first = first_line(path)
    try:
        detect_layout(split_line(first or ""))
    except Exception:  # noqa: BLE001 - any unreadable first line is simply "not REES46"
        return False
    return True


def _from_rees46(path: Path) -> EventTable:
    parsed = read_rees46(path)
    ev = parsed.events
    products = {r["product_id"]: product_from_log(r) for _, r in ev.drop_duplicates("product_id").iterrows()}
    frame = pd.DataFrame({
        "user_id": ev["user_id"], "product_id": ev["product_id"], "interaction_type": ev["interaction_type"],
        "timestamp": ev["timestamp"], "session_id": ev["user_session"], "query": "", "price": ev["price"],
        "brand": ev["product_id"].map(lambda p: products[p]["brand"]),
        "category": ev["product_id"].map(lambda p: " > ".join(products[p]["categories"])),
        "name": ev["product_id"].map(lambda p: products[p]["name"]),
    })
    return EventTable(_finish([_typed(frame)]), str(path), parsed.n_lines, parsed.bad_rows, parsed.skipped_types,
                      parsed.duplicates_in_file, parsed.bad_counts, parsed.broken)


def _mapped(found: list[str], columns: Mapping[str, str] | None, path: Path) -> dict[str, int]:
    """Our column name → position in the file; a missing required column names itself and what was found,
    and two of the file's columns becoming one of ours (a mapped name the file also has, two names mapped
    onto one, a repeated name) are named both, never resolved by position."""
    if columns is not None and not isinstance(columns, Mapping):
        raise ValidationError("columns", "a mapping of the file's column names onto ours", columns)
    mapping = {str(k).strip(): v for k, v in (columns or {}).items()}
    bad = sorted({str(v) for v in mapping.values() if v not in COLUMNS})
    if bad:
        raise ValidationError("columns", f"a mapping onto {', '.join(COLUMNS)}", bad)
    names = [str(name).strip() for name in found]
    renamed = [mapping.get(name, name) for name in names]
    for target in COLUMNS:
        sources = [name for name, ours in zip(names, renamed, strict=True) if ours == target]
        if len(sources) > 1:
            named = [repr(n) + (" (mapped)" if n in mapping else " (the file's own)") for n in sources]
            raise ValidationError(f"column {target}", f"one column of {path.name} for it (map or rename the others), "
                                  f"not {', '.join(named[:-1])} and {named[-1]}", len(sources))
    missing = [c for c in REQUIRED if c not in renamed]
    if missing:
        raise ValidationError(f"column {missing[0]}", f"the required columns {', '.join(REQUIRED)} "
                              "(map other names with columns=...)", f"{path.name} has {', '.join(names)}")
    return {c: renamed.index(c) for c in COLUMNS if c in renamed}


def _from_csv(path: Path, columns: Mapping[str, str] | None, types: Mapping[str, str] | None) -> EventTable:
    """Line by line in chunks of CHUNK_ROWS lines: memory is bounded by the chunk, not the file."""
    lines_in = LogLines(path)
    numbered = iter(lines_in)
    _, head = next(numbered, (1, ""))
    if head is None:
        raise ValidationError(f"{path.name} header", "a line of column names", LINE_TOO_LONG)
    if lines_in.broken is not None:
        raise ValidationError(path.name, "a readable event log", str(lines_in.broken))
    header = split_line(head)
    where = _mapped(header, columns, path)
    table = EventTable(pd.DataFrame(), str(path))
    tally, parts = BadRows(), []
    rows: list[tuple[str, ...]] = []
    lines: list[int] = []
    bad: list[BadRow] = []
    for line_no, text in numbered:
        table.n_rows += 1
        record = line_record(text, len(header))
        if isinstance(record, str):
            bad.append(BadRow(line_no, record))
        else:
            rows.append(record)
            lines.append(line_no)
        if len(rows) + len(bad) == CHUNK_ROWS:
            parts.append(_validate(_columns(rows, where), np.array(lines, dtype=np.int64), types, table, bad))
            tally.add(bad)
            rows, lines, bad = [], [], []
    if rows or bad or not parts:
        parts.append(_validate(_columns(rows, where), np.array(lines, dtype=np.int64), types, table, bad))
        tally.add(bad)
    table.events = _finish(parts)
    table.bad_rows, table.bad_counts, table.broken = tally.listed, tally.counts, lines_in.broken
    return table


def _columns(rows: list[tuple[str, ...]], where: Mapping[str, int]) -> dict[str, np.ndarray]:
    width = max(where.values()) + 1
    arr = np.array(rows, dtype=object).reshape(len(rows), -1) if rows else np.zeros((0, width), object)
    return {c: arr[:, i] for c, i in where.items()}


def _from_parquet(path: Path, columns: Mapping[str, str] | None, types: Mapping[str, str] | None) -> EventTable:
    """Record batch by record batch through Arrow (never pandas' nanosecond timestamps): a value that is not
    one scalar, text that is not UTF-8 or a time outside the accepted range is a bad row; a file Arrow cannot
    open, or whose column names collide, is one error; a file that breaks part-way keeps the rows before."""
    try:
        file = pq.ParquetFile(path)
        names = file.schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(path.name, "a readable Parquet file", f"{type(exc).__name__}: {exc}") from None
    where = _mapped(names, columns, path)
    wanted = {c: names[i] for c, i in where.items()}
    table = EventTable(pd.DataFrame(), str(path))
    tally, parts = BadRows(), []
    try:
        for batch in file.iter_batches(batch_size=CHUNK_ROWS, columns=list(wanted.values())):
            bad: list[BadRow] = []
            cols, invalid = {}, []
            for c, name in wanted.items():
                cols[c], mask, why = _arrow_values(batch.column(name))
                if mask is not None:
                    invalid.append((mask, c, why))
            rows = np.arange(table.n_rows + 1, table.n_rows + batch.num_rows + 1)
            parts.append(_validate(cols, rows, types, table, bad, invalid))
            table.n_rows += batch.num_rows
            tally.add(bad)
    except (pa.ArrowException, OSError) as exc:
        table.broken = Break(table.n_rows + 1, f"{type(exc).__name__}: {exc}")
    if not parts:
        parts.append(_validate({c: np.zeros(0, object) for c in where}, np.zeros(0, np.int64), types, table, []))
    table.events = _finish(parts)
    table.bad_rows, table.bad_counts = tally.listed, tally.counts
    return table


def _arrow_values(arr: pa.Array) -> tuple[np.ndarray, np.ndarray | None, Callable[[int], str]]:
    """One Parquet column as numpy scalars (timestamps and dates as float unix seconds), with the rows whose
    value cannot be one of ours (nested, non-UTF-8 binary) masked and nulled, and why."""
    kind = arr.type
    if pa.types.is_dictionary(kind):
        return _arrow_values(arr.dictionary_decode())
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


def _validate(cols: dict[str, np.ndarray], lines: np.ndarray, types: Mapping[str, str] | None,
              table: EventTable, bad: list[BadRow], invalid: list[Check] = ()) -> pd.DataFrame:
    """One chunk, vectorised; the first failing check names each bad row (skipped types are counted).
    `invalid` are checks the reader already made (values that are not one scalar): they come first."""
    n = len(lines)
    raw_type = pd.Series(cols["interaction_type"], dtype=object).astype(str).to_numpy(dtype=object)
    mapped = pd.Series(raw_type).map({**DEFAULT_TYPES, **(types or {})}).to_numpy(dtype=object)
    skip = np.isin(raw_type, SKIPPED_EVENT_TYPES) & pd.isna(mapped)
    for t, k in zip(*np.unique(raw_type[skip], return_counts=True), strict=True):
        table.skipped_types[str(t)] = table.skipped_types.get(str(t), 0) + int(k)
    seconds = _seconds(cols["timestamp"])
    price = pd.to_numeric(pd.Series(cols.get("price", np.full(n, np.nan))), errors="coerce").to_numpy(float)
    has_price = "price" in cols
    checks: list[Check] = [
        *invalid,
        (pd.isna(mapped) & ~skip, "interaction_type",
         lambda i: f"unknown {raw_type[i]!r} (expected {', '.join(INTERACTION_TYPES)} or a mapping)"),
        (_blank(cols["user_id"]), "user_id", lambda i: "empty"),
        (_blank(cols["product_id"]), "product_id", lambda i: "empty"),
        (np.isnan(seconds), "timestamp",
         lambda i: f"expected ISO 8601 or unix seconds, got {_shown(cols['timestamp'][i])}"),
        ((seconds < MIN_EVENT_TIME) | (seconds > time.time() + MAX_FUTURE_SECONDS), "timestamp",
         lambda i: f"{_shown(cols['timestamp'][i])} is outside 2000-01-01 UTC .. 5 minutes from now"),
        (has_price & ~(np.isfinite(price) & (price >= 0)) & ~_blank(cols.get("price", np.full(n, ""))), "price",
         lambda i: f"expected a non-negative number, got {_shown(cols['price'][i])}"),
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
    return _typed(frame)


def _shown(value: object) -> str:
    """A value in a bad row's reason: text quoted, numbers as numbers (`1e+300`, not `np.float64(1e+300)`)."""
    return repr(value) if isinstance(value, str) else str(value)


def _blank(values: np.ndarray) -> np.ndarray:
    """Empty, whitespace-only or missing, decided once per distinct value (ids repeat heavily)."""
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    blank = np.array([not str(v).strip() for v in uniq], dtype=bool)
    return np.where(codes < 0, True, blank[np.maximum(codes, 0)] if len(uniq) else True)


def _seconds(values: np.ndarray) -> np.ndarray:
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


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical text columns: a 10M-row log repeats ids and names heavily."""
    out = frame[list(COLUMNS)].copy()
    for c in TEXT_COLUMNS:
        out[c] = out[c].astype(str).astype("category")
    out["timestamp"] = out["timestamp"].astype("float64")
    out["price"] = out["price"].astype("float64")
    return out


def _finish(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if len(parts) == 1:
        frame = parts[0]
    else:
        frame = pd.DataFrame({c: (union_categoricals([p[c] for p in parts]) if c in TEXT_COLUMNS
                                  else np.concatenate([p[c].to_numpy() for p in parts])) for c in COLUMNS})
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
