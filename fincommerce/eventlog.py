"""Parse REES46 e-commerce event logs into a normalised DataFrame.

Real exports come in several layouts (with/without header, with a leading
pandas index, ``UTC`` or ``+00:00`` timestamps) and are often truncated, so
the parser detects the layout from the first line and reports malformed rows
as :class:`BadRow` instead of failing the whole import.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

EVENT_TYPE_MAP: dict[str, str] = {"view": "view", "cart": "add_to_cart", "purchase": "purchase"}
SKIPPED_EVENT_TYPES: tuple[str, ...] = ("remove_from_cart",)  # valid REES46 types we do not model
# Fixed forever: event ids must stay identical across imports and releases.
EVENT_ID_NAMESPACE: uuid.UUID = uuid.UUID("6f1d3c5e-2b7a-5c4e-9a51-4e2a1f0b7d93")
COLUMNS: tuple[str, ...] = ("event_id", "timestamp", "interaction_type", "product_id", "category_id",
                            "category_code", "brand", "price", "user_id", "user_session")
_SOURCE_FIELDS = ("event_time", "event_type", "product_id", "category_id",
                  "category_code", "brand", "price", "user_id")
_TIME_RE = re.compile(r"\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


@dataclass(frozen=True)
class BadRow:
    """A skipped row, with enough context for a human to find and fix it."""

    line: int  # 1-based physical line number in the file
    reason: str


@dataclass
class ParsedLog:
    """Result of a tolerant import: good events plus an account of everything dropped."""

    events: pd.DataFrame
    bad_rows: list[BadRow] = field(default_factory=list)
    skipped_types: dict[str, int] = field(default_factory=dict)
    n_lines: int = 0


def empty_events() -> pd.DataFrame:
    """Typed empty frame, so callers can concat/filter without special-casing empty files."""
    return pd.DataFrame({c: pd.Series([], dtype="float64" if c in ("timestamp", "price") else "str")
                         for c in COLUMNS})


def _layout(first: list[str]) -> tuple[dict[str, int], int, bool]:
    """Map source column -> field index from the first row; returns (index, n_fields, has_header)."""
    if first and first[0].strip() == "event_time":
        names = [f.strip() for f in first]
        missing = [c for c in _SOURCE_FIELDS if c not in names]
        if missing:
            raise ValueError(f"REES46 header lacks required columns {missing}")
        return {c: names.index(c) for c in (*_SOURCE_FIELDS, "user_session") if c in names}, len(names), True
    if len(first) == 9 and _TIME_RE.match(first[1]):  # pandas-exported: leading index, no user_session
        return {c: i + 1 for i, c in enumerate(_SOURCE_FIELDS)}, 9, False
    raise ValueError(f"unrecognised REES46 layout: first line has {len(first)} fields, starts {first[:2]!r}")


def _uuid5_strings(digests: list[bytes]) -> list[str]:
    """uuid5 strings from precomputed SHA-1 digests, vectorised (uuid.uuid5 costs ~8us/row)."""
    n = len(digests)
    raw = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(n, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexc = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype="S1").reshape(n, 32)
    out = np.full((n, 36), b"-", dtype="S1")
    for dst, src, width in ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12)):
        out[:, dst:dst + width] = hexc[:, src:src + width]
    return out.view("S36").ravel().astype("U36").tolist()


def _scan(path: Path) -> tuple[list[list[str]], list[int], list[bytes], list[BadRow], int, dict[str, int]]:
    """Split the file into rows with the right field count; the hot loop does only that and hashing."""
    rows: list[list[str]] = []
    lines: list[int] = []
    digests: list[bytes] = []
    bad: list[BadRow] = []
    nsb, sha1 = EVENT_ID_NAMESPACE.bytes, hashlib.sha1
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        raw, src = itertools.tee(fh)  # csv parses `src`; `raw` yields the same physical lines for ids
        reader = csv.reader(src)
        first = next(reader, None)
        if first is None:
            return rows, lines, digests, bad, 0, {}
        idx, n_fields, has_header = _layout(first)
        header_lines = reader.line_num if has_header else 0
        done = reader.line_num if has_header else 0
        if has_header:
            for _ in itertools.islice(raw, done):
                pass
        pending = [] if has_header else [first]
        while True:  # re-enter the for loop after a csv.Error so one broken record is not fatal
            try:
                for row in itertools.chain(pending, reader):
                    end = reader.line_num
                    text = next(raw) if end - done == 1 else "".join(itertools.islice(raw, end - done))
                    line_no, done = done + 1, end
                    if len(row) != n_fields:
                        bad.append(BadRow(line_no, f"expected {n_fields} fields, got {len(row)}"))
                        continue
                    rows.append(row)
                    lines.append(line_no)
                    digests.append(sha1(nsb + text.rstrip("\r\n").encode("utf-8")).digest())
                break
            except csv.Error as exc:
                pending = []
                bad.append(BadRow(done + 1, f"csv error: {exc}"))
                for _ in itertools.islice(raw, reader.line_num - done):
                    pass
                done = reader.line_num
        return rows, lines, digests, bad, reader.line_num - header_lines, idx


def _parse_seconds(times: np.ndarray) -> np.ndarray:
    """Vectorised UTC parse of ' UTC' / '+00:00' stamps to unix seconds; NaN where unparseable."""
    codes, uniq = pd.factorize(times)  # stamps repeat a lot: parse each distinct one once
    norm = pd.Index(uniq, dtype=object).str.strip().str.replace(" UTC", "+00:00", regex=False)
    ts = pd.to_datetime(norm, utc=True, format="ISO8601", errors="coerce")
    secs = ((ts - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype="float64")
    return secs[codes]


def read_rees46(path: str | Path) -> ParsedLog:
    """Read a REES46 CSV in any known layout; malformed rows are reported, never fatal."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"REES46 event log not found: {path}")
    rows, lines, digests, bad, n_lines, idx = _scan(path)
    events = empty_events()
    skipped: dict[str, int] = {}
    if rows:
        arr = np.array(rows, dtype=object)  # (n, n_fields): every row was checked to have n_fields
        del rows

        def col(name: str) -> np.ndarray:
            return arr[:, idx[name]]

        etype = pd.Series(col("event_type"), dtype=object)
        price = pd.to_numeric(pd.Series(col("price"), dtype=object), errors="coerce").to_numpy(dtype="float64")
        is_skip = etype.isin(SKIPPED_EVENT_TYPES).to_numpy()
        skipped = {str(k): int(v) for k, v in etype[is_skip].value_counts().items()}
        checks: list[tuple[np.ndarray, str, Callable[[int], str]]] = [
            (~etype.isin(EVENT_TYPE_MAP).to_numpy(), "event_type", lambda i: f"unknown {col('event_type')[i]!r}"),
            (pd.Series(col("product_id"), dtype=object).str.strip().eq("").to_numpy(), "product_id", lambda i: "empty"),
            (pd.Series(col("user_id"), dtype=object).str.strip().eq("").to_numpy(), "user_id", lambda i: "empty"),
            (~(np.isfinite(price) & (price >= 0)), "price",
             lambda i: f"expected a non-negative number, got {col('price')[i]!r}"),
        ]
        keep = ~is_skip
        for mask, name, reason in checks:  # first failing check wins, in column order
            bad.extend(BadRow(lines[i], f"{name}: {reason(i)}") for i in np.flatnonzero(keep & mask))
            keep &= ~mask
        seconds = np.full(len(arr), np.nan)
        seconds[keep] = _parse_seconds(col("event_time")[keep])  # only rows that passed the cheap checks
        no_time = keep & np.isnan(seconds)
        bad.extend(BadRow(lines[i], f"event_time: unparseable {col('event_time')[i]!r}") for i in np.flatnonzero(no_time))
        keep &= ~no_time
        sess = arr[keep, idx["user_session"]] if "user_session" in idx else np.full(int(keep.sum()), "", object)
        data = {"event_id": _uuid5_strings(list(itertools.compress(digests, keep))), "timestamp": seconds[keep],
                "interaction_type": etype[keep].map(EVENT_TYPE_MAP).to_numpy(dtype=object),
                **{c: col(c)[keep] for c in ("product_id", "category_id", "category_code", "brand")},
                "price": price[keep], "user_id": col("user_id")[keep], "user_session": sess}
        events = pd.DataFrame({c: pd.Series(data[c], dtype=events[c].dtype) for c in COLUMNS})
        bad.sort(key=lambda b: b.line)
    if bad:
        logger.warning("%s: skipped %d malformed row(s); first: %s", path, len(bad),
                       "; ".join(f"line {b.line}: {b.reason}" for b in bad[:3]))
    counts = events["interaction_type"].value_counts().to_dict()
    logger.info("%s: %d data lines -> %d events %s; %d bad; skipped %s",
                path, n_lines, len(events), counts, len(bad), skipped)
    return ParsedLog(events=events, bad_rows=bad, skipped_types=skipped, n_lines=n_lines)
