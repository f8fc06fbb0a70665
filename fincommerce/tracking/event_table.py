"""Any event log as columns: CSV (plain or .gz) or Parquet, own or mapped column names, REES46 included.

Analyses and backtests run on this table with pandas/numpy, never through the vector store, so a
10M-event log needs no embeddings. Bad rows are reported with their line (CSV) or row (Parquet)
number and never stop the load; a file with no usable row, or without a required column, is one error.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from fincommerce.errors import ValidationError, relative_path_hint
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.importers import product_from_log
from fincommerce.tracking.lines import line_record, open_text, split_line
from fincommerce.tracking.rees46 import (
    EVENT_TYPE_MAP,
    MAX_FUTURE_SECONDS,
    MIN_EVENT_TIME,
    SKIPPED_EVENT_TYPES,
    BadRow,
    detect_layout,
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
CHUNK_ROWS = 200_000


@dataclass
class EventTable:
    """Events sorted by time (text columns categorical, timestamp float unix seconds) and an account of the rest."""

    events: pd.DataFrame
    path: str
    n_rows: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    skipped_types: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # the same event twice in the file (REES46 event ids): kept once

    def summary(self) -> str:
        first = f"; first: line {self.bad_rows[0].line}: {self.bad_rows[0].reason}" if self.bad_rows else ""
        skipped = ", ".join(f"{n:,} {t}" for t, n in self.skipped_types.items()) or "none"
        return (f"{Path(self.path).name}: {self.n_rows:,} rows → {len(self.events):,} events, "
                f"{self.events['user_id'].nunique():,} users, {self.events['product_id'].nunique():,} products; "
                f"skipped types: {skipped}; repeated events: {self.duplicates:,}; bad rows: {len(self.bad_rows):,}{first}")


def read_event_table(path: str | Path, columns: Mapping[str, str] | None = None,
                     types: Mapping[str, str] | None = None) -> EventTable:
    """Load a log. `columns` maps the file's names onto ours ({"ts": "timestamp"}); `types` maps its
    interaction names onto view/click/add_to_cart/purchase (an unmapped name is a bad row)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event log not found: {path}{relative_path_hint(path)}")
    started = time.perf_counter()
    if path.suffix in (".parquet", ".pq"):
        table = _from_frame(pd.read_parquet(path), path, columns, types)
    elif columns is None and _is_rees46(path):
        table = _from_rees46(path)
    else:
        table = _from_csv(path, columns, types)
    if table.events.empty:
        fields = pd.Series([b.reason.split(":")[0] for b in table.bad_rows]).value_counts().head(3)
        why = ", ".join(f"{n:,} bad {f}" for f, n in fields.items()) or "no data rows"
        skipped = ", ".join(f"{n:,} {t} skipped" for t, n in table.skipped_types.items())
        first = f" (line {table.bad_rows[0].line}: {table.bad_rows[0].reason})" if table.bad_rows else ""
        raise ValidationError(f"{path.name}", f"an event log with at least one usable row{first}",
                              f"{table.n_rows:,} rows, none usable: " + "; ".join(x for x in (why, skipped) if x))
    log.info("%s in %.1f s", table.summary(), time.perf_counter() - started)
    return table


def _is_rees46(path: Path) -> bool:
    with open_text(path) as fh:
        first = fh.readline().rstrip("\r\n")
    try:
        detect_layout(split_line(first))
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
                      parsed.duplicates_in_file)


def _mapped(found: list[str], columns: Mapping[str, str] | None, path: Path) -> dict[str, int]:
    """Our column name → position in the file; a missing required column names itself and what was found."""
    mapping = dict(columns or {})
    bad = {v for v in mapping.values() if v not in COLUMNS}
    if bad:
        raise ValidationError("columns", f"a mapping onto {', '.join(COLUMNS)}", sorted(bad))
    renamed = [mapping.get(name.strip(), name.strip()) for name in found]
    missing = [c for c in REQUIRED if c not in renamed]
    if missing:
        raise ValidationError(f"column {missing[0]}", f"the required columns {', '.join(REQUIRED)} "
                              "(map other names with columns=...)", f"{path.name} has {', '.join(found)}")
    return {c: renamed.index(c) for c in COLUMNS if c in renamed}


def _from_csv(path: Path, columns: Mapping[str, str] | None, types: Mapping[str, str] | None) -> EventTable:
    with open_text(path) as fh:
        header = split_line(fh.readline().rstrip("\r\n"))
        where = _mapped(header, columns, path)
        table = EventTable(pd.DataFrame(), str(path))
        parts, rows, lines = [], [], []
        for line_no, text in enumerate(fh, start=2):
            table.n_rows += 1
            record = line_record(text.rstrip("\r\n"), len(header))
            if isinstance(record, str):
                table.bad_rows.append(BadRow(line_no, record))
                continue
            rows.append(record)
            lines.append(line_no)
            if len(rows) == CHUNK_ROWS:
                parts.append(_validate(_columns(rows, where), np.array(lines), types, table))
                rows, lines = [], []
        if rows or not parts:
            parts.append(_validate(_columns(rows, where), np.array(lines, dtype=np.int64), types, table))
    table.events = _finish(parts)
    table.bad_rows.sort(key=lambda b: b.line)
    return table


def _columns(rows: list[tuple[str, ...]], where: Mapping[str, int]) -> dict[str, np.ndarray]:
    arr = np.array(rows, dtype=object).reshape(len(rows), -1) if rows else np.zeros((0, max(where.values()) + 1), object)
    return {c: arr[:, i] for c, i in where.items()}


def _from_frame(frame: pd.DataFrame, path: Path, columns: Mapping[str, str] | None,
                types: Mapping[str, str] | None) -> EventTable:
    where = _mapped([str(c) for c in frame.columns], columns, path)
    table = EventTable(pd.DataFrame(), str(path), len(frame))
    parts = [_validate({c: frame.iloc[start:start + CHUNK_ROWS, i].to_numpy() for c, i in where.items()},
                       np.arange(start + 1, min(start + CHUNK_ROWS, len(frame)) + 1), types, table)
             for start in range(0, max(len(frame), 1), CHUNK_ROWS)]
    table.events = _finish(parts)
    return table


def _validate(cols: dict[str, np.ndarray], lines: np.ndarray, types: Mapping[str, str] | None,
              table: EventTable) -> pd.DataFrame:
    """One chunk, vectorised; the first failing check names each bad row (skipped types are counted)."""
    n = len(lines)
    raw_type = pd.Series(cols["interaction_type"], dtype=object).astype(str).to_numpy(dtype=object)
    mapped = pd.Series(raw_type).map({**DEFAULT_TYPES, **(types or {})}).to_numpy(dtype=object)
    skip = np.isin(raw_type, SKIPPED_EVENT_TYPES) & pd.isna(mapped)
    for t, k in zip(*np.unique(raw_type[skip], return_counts=True)):
        table.skipped_types[str(t)] = table.skipped_types.get(str(t), 0) + int(k)
    seconds = _seconds(cols["timestamp"])
    price = pd.to_numeric(pd.Series(cols.get("price", np.full(n, np.nan))), errors="coerce").to_numpy(float)
    has_price = "price" in cols
    checks = [
        (pd.isna(mapped) & ~skip, "interaction_type", lambda i: f"unknown {raw_type[i]!r} "
                                                                 f"(expected {', '.join(INTERACTION_TYPES)} or a mapping)"),
        (_blank(cols["user_id"]), "user_id", lambda i: "empty"),
        (_blank(cols["product_id"]), "product_id", lambda i: "empty"),
        (np.isnan(seconds), "timestamp", lambda i: f"expected ISO 8601 or unix seconds, got {cols['timestamp'][i]!r}"),
        ((seconds < MIN_EVENT_TIME) | (seconds > time.time() + MAX_FUTURE_SECONDS), "timestamp",
         lambda i: f"{cols['timestamp'][i]!r} is outside 2000-01-01 UTC .. 5 minutes from now"),
        (has_price & ~(np.isfinite(price) & (price >= 0)) & ~_blank(cols.get("price", np.full(n, ""))), "price",
         lambda i: f"expected a non-negative number, got {cols['price'][i]!r}"),
    ]
    keep = ~skip
    for mask, name, reason in checks:
        table.bad_rows.extend(BadRow(int(lines[i]), f"{name}: {reason(i)}") for i in np.flatnonzero(keep & mask))
        keep &= ~mask
    frame = pd.DataFrame({c: (cols[c][keep] if c in cols else np.full(int(keep.sum()), "", dtype=object))
                          for c in TEXT_COLUMNS})
    frame["interaction_type"] = mapped[keep]
    frame["timestamp"] = seconds[keep]
    frame["price"] = price[keep]
    return _typed(frame)


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
    text = pd.Series(uniq).str.replace(" UTC", "+00:00", regex=False)
    stamps = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    iso = ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(float)
    out = np.where(np.isnan(numeric), iso, numeric)
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
