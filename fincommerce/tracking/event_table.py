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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fincommerce.errors import ValidationError, relative_path_hint
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.bad_rows import BadRow, BadRows
from fincommerce.tracking.importers import product_from_log
from fincommerce.tracking.lines import LINE_TOO_LONG, Break, LogLines, first_line, line_record, split_line
from fincommerce.tracking.rees46 import detect_layout, read_rees46
from fincommerce.tracking.table_rows import (  # noqa: F401 - COLUMNS and the rest are part of this module's API
    COLUMNS,
    DEFAULT_TYPES,
    OPTIONAL,
    REES46_COLUMNS,
    REQUIRED,
    TEXT_COLUMNS,
    Check,
    finish,
    typed,
    validate_chunk,
)
from fincommerce.tracking.values import arrow_values

log = logging.getLogger(__name__)

CHUNK_ROWS = 200_000  # lines (CSV) or rows (Parquet) validated at a time

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
        raise FileNotFoundError(f"event log not found: {path}{relative_path_hint(path)}")
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
    return EventTable(finish([typed(frame)]), str(path), parsed.n_lines, parsed.bad_rows, parsed.skipped_types,
                      parsed.duplicates_in_file, parsed.bad_counts, parsed.broken)


def map_columns(found: list[str], columns: Mapping[str, str] | None, path: Path) -> dict[str, int]:
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
    where = map_columns(header, columns, path)
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
            parts.append(validate_chunk(_columns(rows, where), np.array(lines, dtype=np.int64), types,
                                        table.skipped_types, bad))
            tally.add(bad)
            rows, lines, bad = [], [], []
    if rows or bad or not parts:
        parts.append(validate_chunk(_columns(rows, where), np.array(lines, dtype=np.int64), types,
                                        table.skipped_types, bad))
        tally.add(bad)
    table.events = finish(parts)
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
    where = map_columns(names, columns, path)
    wanted = {c: names[i] for c, i in where.items()}
    table = EventTable(pd.DataFrame(), str(path))
    tally, parts = BadRows(), []
    try:
        for batch in file.iter_batches(batch_size=CHUNK_ROWS, columns=list(wanted.values())):
            bad: list[BadRow] = []
            cols, invalid = {}, []
            for c, name in wanted.items():
                cols[c], mask, why = arrow_values(batch.column(name))
                if mask is not None:
                    invalid.append((mask, c, why))
            rows = np.arange(table.n_rows + 1, table.n_rows + batch.num_rows + 1)
            parts.append(validate_chunk(cols, rows, types, table.skipped_types, bad, invalid))
            table.n_rows += batch.num_rows
            tally.add(bad)
    except (pa.ArrowException, OSError) as exc:
        table.broken = Break(table.n_rows + 1, f"{type(exc).__name__}: {exc}")
    if not parts:
        parts.append(validate_chunk({c: np.zeros(0, object) for c in where}, np.zeros(0, np.int64), types,
                                    table.skipped_types, []))
    table.events = finish(parts)
    table.bad_rows, table.bad_counts = tally.listed, tally.counts
    return table


