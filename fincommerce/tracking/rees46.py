"""Parse REES46 e-commerce event logs into a normalised DataFrame.

Real exports come in several layouts (with/without header, with a leading
pandas index, ``UTC`` or ``+00:00`` timestamps) and are often truncated, so
the parser detects the layout from the first line and reports malformed rows
as :class:`BadRow` instead of failing the whole import.
"""

from __future__ import annotations

import csv
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fincommerce.schema import MAX_ID_CHARS
from fincommerce.tracking.bad_rows import BadRow, BadRows
from fincommerce.tracking.event_ids import event_ids, price_key
from fincommerce.tracking.lines import LINE_TOO_LONG, Break, LogLines, line_record, split_line
from fincommerce.tracking.values import iso_seconds

log = logging.getLogger(__name__)

EVENT_TYPE_MAP: dict[str, str] = {"view": "view", "cart": "add_to_cart", "purchase": "purchase"}
SKIPPED_EVENT_TYPES: tuple[str, ...] = ("remove_from_cart",)  # valid REES46 types we do not model
COLUMNS: tuple[str, ...] = ("event_id", "timestamp", "interaction_type", "product_id", "category_id",
                            "category_code", "brand", "price", "user_id", "user_session")
_FIELDS = ("event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price",
           "user_id", "user_session")
FIELDS = _FIELDS  # REES46's column names, in its header's order (the log engine names headerless files with them)
_STR_FIELDS = ("product_id", "category_id", "category_code", "brand", "user_id", "user_session")
MAX_FIELD_CHARS = 1000
# What the event log accepts, so a row that parses is a row that imports (a name is "<brand> <kind>").
_MAX_CHARS = {"product_id": MAX_ID_CHARS, "category_id": MAX_ID_CHARS, "category_code": MAX_ID_CHARS,
              "brand": MAX_ID_CHARS, "user_id": MAX_ID_CHARS, "user_session": MAX_FIELD_CHARS}
_ID_FIELDS = ("event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id", "user_session")
# Accepted event times: from 2000-01-01 UTC to five minutes ahead of the importing machine's clock.
MIN_EVENT_TIME = 946_684_800.0
CHUNK_LINES = 100_000  # lines parsed, validated and imported at a time
MAX_FUTURE_SECONDS = 300.0
_TIME_RE = re.compile(r"\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


@dataclass
class ParsedLog:
    """Result of a tolerant import: good events plus an account of everything dropped."""

    events: pd.DataFrame
    bad_rows: list[BadRow] = field(default_factory=list)  # a chunk's all; a whole file's first MAX_BAD_ROWS_KEPT
    skipped_types: dict[str, int] = field(default_factory=dict)
    n_lines: int = 0
    duplicates_in_file: int = 0  # the same event twice (identical or respelt lines): imported once
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # each event's line in the file
    bad_counts: dict[str, int] = field(default_factory=dict)  # every bad row, by kind (BadRow.kind)
    broken: Break | None = None  # where a truncated or corrupt file stopped being readable

    @property
    def n_bad(self) -> int:
        return sum(self.bad_counts.values()) if self.bad_counts else len(self.bad_rows)


def empty_events() -> pd.DataFrame:
    """Typed empty frame, so callers can concat/filter without special-casing empty files."""
    return pd.DataFrame({c: pd.Series([], dtype="float64" if c in ("timestamp", "price") else "str")
                         for c in COLUMNS})


def detect_layout(first: list[str]) -> tuple[list[int | None], int, bool]:
    """Field index of each of _FIELDS (None = absent) from the first row, plus n_fields and has_header."""
    names = [f.strip() for f in first]
    if "event_time" in names:  # also accepts a pandas export whose header starts with an unnamed index
        missing = [c for c in _FIELDS[:-1] if c not in names]
        if missing:
            raise ValueError(f"REES46 header lacks required columns {missing}")
        return [names.index(c) if c in names else None for c in _FIELDS], len(names), True
    if len(first) == 9 and _TIME_RE.match(first[1]):  # pandas export: leading index, no user_session
        return [1, 2, 3, 4, 5, 6, 7, 8, None], 9, False
    raise ValueError(f"unrecognised REES46 layout: first line has {len(first)} fields, starts {first[:2]!r}")


def _scan(path: Path, chunk_lines: int, lines_in: LogLines) -> Iterator[tuple[list[tuple[str, ...]], list[int],
                                                                        list[BadRow], int, list[int | None]]]:
    """Yield (rows, line numbers, bad rows, data lines, field index) per chunk of `chunk_lines` lines.

    Rows with the wrong field count, broken quoting or an over-long line become BadRows here; all other
    checks run vectorised later. Rows are tuples because the cyclic GC keeps rescanning a million lists.
    """
    numbered = iter(lines_in)
    head = next(numbered, None)
    if head is None:  # an empty file, or one broken before its first line ended
        return
    first_text = head[1]
    if first_text is None:
        raise ValueError(f"unreadable first line: {LINE_TOO_LONG}")
    try:
        first = split_line(first_text)
    except csv.Error as exc:
        raise ValueError(f"unreadable first line: {exc}") from None
    idx, n_fields, has_header = detect_layout(first)
    rows: list[tuple[str, ...]] = [] if has_header else [tuple(first)]
    lines: list[int] = [] if has_header else [1]
    bad: list[BadRow] = []
    n_lines = 0 if has_header else 1
    for line_no, text in numbered:
        n_lines += 1
        record = line_record(text, n_fields)
        if isinstance(record, str):
            bad.append(BadRow(line_no, record))
        else:
            rows.append(record)
            lines.append(line_no)
        if n_lines == chunk_lines:
            yield rows, lines, bad, n_lines, idx
            rows, lines, bad, n_lines = [], [], [], 0
    if n_lines:
        yield rows, lines, bad, n_lines, idx


def _per_unique(values: np.ndarray, fn: Callable[[pd.Index], np.ndarray]) -> np.ndarray:
    """Apply a vectorised fn to the distinct values only: REES46 columns repeat heavily."""
    codes, uniq = pd.factorize(values)
    return np.asarray(fn(pd.Index(uniq, dtype=object)))[codes]


def _blank(values: np.ndarray) -> np.ndarray:
    """True where a value is empty or whitespace only (C-speed: no per-row Python frames)."""
    return (values == "") | np.fromiter(map(str.isspace, values), dtype=bool, count=len(values))


def _to_price(values: pd.Index) -> np.ndarray:
    """Prices as float; NaN where not a number (the caller also rejects inf and negatives)."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")


def iter_rees46(path: str | Path, chunk_lines: int = CHUNK_LINES) -> Iterator[ParsedLog]:
    """The log in chunks of `chunk_lines` lines, so memory stays bounded however long the file is.

    Malformed rows are reported, never fatal; an event repeated anywhere in the file is yielded once
    (its repeats count as duplicates in the file). Raises FileNotFoundError for a missing file and
    ValueError when the first line matches no known layout. Undecodable bytes become U+FFFD. A truncated
    or corrupt compressed file ends the chunks: the last one says where (`broken`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"REES46 event log not found: {path}")
    seen: set[str] = set()  # ids of the events already yielded: ~100 bytes per event
    lines_in = LogLines(path)
    for rows, lines, bad, n_lines, idx in _scan(path, chunk_lines, lines_in):
        part = _parse(rows, lines, bad, n_lines, idx)
        again = part.events["event_id"].isin(seen).to_numpy()
        if again.any():
            part.events = part.events[~again].reset_index(drop=True)
            part.lines = part.lines[~again]
            part.duplicates_in_file += int(again.sum())
        seen.update(part.events["event_id"].to_numpy(dtype=object).tolist())
        yield part
    if lines_in.broken is not None:
        yield ParsedLog(events=empty_events(), broken=lines_in.broken)


def read_rees46(path: str | Path) -> ParsedLog:
    """The whole log at once (tests, small files); `iter_rees46` streams."""
    parts, bad = [], BadRows()
    for part in iter_rees46(path):  # each chunk's bad rows are counted, then dropped
        bad.add(part.bad_rows)
        part.bad_rows = []
        parts.append(part)
    events = pd.concat([p.events for p in parts], ignore_index=True) if parts else empty_events()
    skipped = dict(sum((Counter(p.skipped_types) for p in parts), Counter()))
    n_lines = sum(p.n_lines for p in parts)
    broken = parts[-1].broken if parts else None
    if bad.total:
        log.warning("%s: skipped %d malformed row(s); first: %s", path, bad.total,
                    "; ".join(f"line {b.line}: {b.reason}" for b in bad.listed[:3]))
    if broken is not None:
        log.warning("%s: %s; the %d lines before it were read", path, broken, n_lines)
    counts = dict(Counter(events["interaction_type"].to_numpy(dtype=object)))
    log.info("%s: %d data lines -> %d events %s; %d bad; skipped %s", path, n_lines, len(events), counts, bad.total,
             skipped)
    return ParsedLog(events=events, bad_rows=bad.listed, skipped_types=skipped, n_lines=n_lines,
                     duplicates_in_file=sum(p.duplicates_in_file for p in parts),
                     lines=np.concatenate([p.lines for p in parts]) if parts else np.zeros(0, np.int64),
                     bad_counts=bad.counts, broken=broken)


def _parse(rows: list[tuple[str, ...]], lines: list[int], bad: list[BadRow], n_lines: int,
           idx: list[int | None]) -> ParsedLog:
    """Validate one chunk's rows, vectorised; the first failing check names each bad row."""
    events = empty_events()
    skipped: dict[str, int] = {}
    duplicates = 0
    event_lines = np.zeros(0, np.int64)
    if rows:
        arr = np.array(rows, dtype=object)  # (n, n_fields): every row was checked to have n_fields
        del rows
        none = np.full(len(arr), "", dtype=object)
        col = dict(zip(_FIELDS, (arr[:, i] if i is not None else none for i in idx), strict=True))
        etype = col["event_type"]
        itype = _per_unique(etype, lambda u: u.map(EVENT_TYPE_MAP).to_numpy(dtype=object))
        is_skip = np.zeros(len(etype), dtype=bool)
        for t in SKIPPED_EVENT_TYPES:
            hit = etype == t
            if hit.any():
                skipped[t] = int(hit.sum())
                is_skip |= hit
        price = _per_unique(col["price"], _to_price)
        too_long = {c: np.fromiter(map(len, col[c]), np.int64, count=len(col[c])) > _MAX_CHARS[c]
                    for c in _STR_FIELDS}
        checks: list[tuple[np.ndarray, str, Callable[[int], str]]] = [
            *((too_long[c], c, lambda i, c=c: f"longer than {_MAX_CHARS[c]:,} characters") for c in _STR_FIELDS),
            (pd.isna(itype), "event_type", lambda i: f"unknown {etype[i]!r}"),
            (_blank(col["product_id"]), "product_id", lambda i: "empty"),
            (_blank(col["user_id"]), "user_id", lambda i: "empty"),
            (~(np.isfinite(price) & (price >= 0)), "price",
             lambda i: f"expected a non-negative number, got {col['price'][i]!r}"),
        ]
        keep = ~is_skip
        for mask, name, reason in checks:  # the first failing check, in column order, names the row
            bad.extend(BadRow(lines[i], f"{name}: {reason(i)}") for i in np.flatnonzero(keep & mask))
            keep &= ~mask
        seconds = _per_unique(col["event_time"], lambda u: iso_seconds(pd.Series(u, dtype=object)))  # UTC
        no_time = keep & np.isnan(seconds)
        bad.extend(BadRow(lines[i], f"event_time: unparseable {col['event_time'][i]!r}")
                   for i in np.flatnonzero(no_time))
        keep &= ~no_time
        latest = time.time() + MAX_FUTURE_SECONDS
        outside = keep & ((seconds < MIN_EVENT_TIME) | (seconds > latest))
        bad.extend(BadRow(lines[i], f"event_time: {col['event_time'][i].strip()!r} is outside the accepted range "
                                    "(2000-01-01 UTC to 5 minutes from now)") for i in np.flatnonzero(outside))
        keep &= ~outside
        keyed = {**col, "price": _per_unique(col["price"], lambda u: [price_key(v) for v in _to_price(u)])}
        ids = np.array(event_ids(seconds[keep], [keyed[c][keep] for c in _ID_FIELDS]), dtype=object)
        repeated = pd.Series(ids).duplicated().to_numpy()
        duplicates = int(repeated.sum())
        keep[np.flatnonzero(keep)[repeated]] = False
        event_lines = np.asarray(lines, dtype=np.int64)[keep]
        data = {"event_id": ids[~repeated], "timestamp": seconds[keep], "interaction_type": itype[keep],
                "price": price[keep], **{c: col[c][keep] for c in _STR_FIELDS}}
        events = pd.DataFrame({c: pd.Series(data[c], dtype=events[c].dtype) for c in COLUMNS})
        bad.sort(key=lambda b: b.line)
    return ParsedLog(events=events, bad_rows=bad, skipped_types=skipped, n_lines=n_lines,
                     duplicates_in_file=duplicates, lines=event_lines)
