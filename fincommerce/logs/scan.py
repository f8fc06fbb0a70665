"""A log as an engine table, scanned not loaded: our column names, typed values, and why each bad row is bad.

The file's columns are mapped onto ours (`column_map`, REES46's own names recognised), its interaction
names onto ours (`type_map`, REES46's `cart` included), and every row gets the first check it fails as its
`reason` (NULL for a good row) — the same checks, in the same order, as `read_event_table`. Nothing runs
until an analysis asks: `events` is an Ibis expression the engine plans and executes out of core.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis import _
from ibis.backends import BaseBackend

from fincommerce.errors import ValidationError
from fincommerce.logs.engine import connect, engine_name, materialize
from fincommerce.logs.files import LogFiles, log_files
from fincommerce.logs.reading import read_rows
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.event_table import COLUMNS, DEFAULT_TYPES, TEXT_COLUMNS, map_columns
from fincommerce.tracking.rees46 import MAX_FUTURE_SECONDS, MIN_EVENT_TIME, SKIPPED_EVENT_TYPES

REES46_NAMES = {"event_time": "timestamp", "event_type": "interaction_type", "user_session": "session_id",
                "category_code": "category"}
REES46_REQUIRED = ("event_time", "event_type", "product_id", "user_id")
REES46_KEY = ("timestamp", "raw_type", "product_id", "category_id", "category", "brand", "price", "user_id",
              "session_id")  # what makes two REES46 lines the same event (its importer's event id)
TREND_COLUMNS = ("product_id", "interaction_type", "timestamp", "name", "brand", "category", "category_id", "file",
                 "row")
KEY = "key_"  # prefix of the typed copies of integer ids that REES46's merge groups on


@dataclass
class LogScan:
    """A scanned log: `rows` is every data row with `reason`; `events` the usable ones, deduplicated for REES46."""

    con: BaseBackend
    source: LogFiles
    rows: ir.Table  # our columns + raw_type, category_id, skipped, ok, reason, file, row
    rees46: bool
    path: str
    view: str  # the engine's name for the raw rows (DuckDB keeps CSV rejects beside it)

    @property
    def good(self) -> ir.Table:
        """The usable rows, REES46's repeats not yet merged."""
        return self.rows.filter(self.rows.ok)

    @property
    def events(self) -> ir.Table:
        """Usable events with their first `file` and `row`; a REES46 event repeated in the log counts once.

        Only the rows whose time, type, product and user repeat are grouped on the whole merge key: grouping
        every row on it costs 3× as much, and the rest are events as they stand."""
        out = [*COLUMNS, "category_id", "file", "row"]
        if not self.rees46:
            return self.good.select(*out)
        single = self.good.anti_join(self.repeat_candidates, self.narrow_key).select(*out)
        merged = (self.good.semi_join(self.repeat_candidates, self.narrow_key).group_by(self.merge_key)
                  .aggregate(file=_.file.min(), row=_.row.min()))
        texts = {c: merged[KEY + c].cast("string") if c == "category_id" else merged[KEY + c].cast("string")
                 .fill_null("") for c in self._typed}  # as `_validated` spells them
        return single.union(merged.mutate(**texts).select(*out))

    @cached_property
    def trend_events(self) -> ir.Table:
        """`events` as the trend tables read them (no user, session, price or query), computed once and kept in
        the engine: 03 asks ~10 questions of them, and each would otherwise re-read and re-check the files and
        merge the repeats again."""
        return materialize(self.events.select(*TREND_COLUMNS))

    @property
    def narrow_key(self) -> list[str]:
        """Time, type, product and user: rows that differ in them are different events."""
        user, product = self.user_product
        return ["timestamp", "raw_type", product, user]

    @cached_property
    def repeat_candidates(self) -> ir.Table:
        """The narrow keys that more than one usable row shares (few; kept in the engine for the scan's life)."""
        narrow = self.narrow_key
        return materialize(self.good.group_by(narrow).aggregate(n=_.count()).filter(_.n > 1).select(*narrow))

    @property
    def merge_key(self) -> list[str]:
        """What makes two REES46 rows one event, with the integer ids grouped as the file types them (their text
        is one-to-one with them, and is written once per merged event, afterwards)."""
        rest = [c for c in (*COLUMNS, "category_id") if c not in self._typed]
        return [*rest, "raw_type", *(KEY + c for c in self._typed)]

    @property
    def user_product(self) -> tuple[str, str]:
        """The user and product columns to count or group on: the typed ids where the file has them."""
        return tuple(KEY + c if c in self._typed else c for c in ("user_id", "product_id"))  # type: ignore[return-value]

    @property
    def _typed(self) -> list[str]:
        return [c[len(KEY):] for c in self.rows.columns if c.startswith(KEY)]


def scan_log(path: str | Path, column_map: Mapping[str, str] | None = None,
             type_map: Mapping[str, str] | None = None, *, con: BaseBackend | None = None) -> LogScan:
    """Scan a log (file, folder or glob) on `con` (DuckDB in-process when None); see the module docstring."""
    con = con or connect()
    source = log_files(path)
    raw = read_rows(con, source)
    names = [c for c in raw.columns if c not in ("file", "row")]
    _check_types(type_map)
    rees46 = column_map is None and all(n in names for n in REES46_REQUIRED) and "interaction_type" not in names
    mapping = {k: v for k, v in REES46_NAMES.items() if k in names} if rees46 else column_map
    where = map_columns(names, mapping, source.files[0])
    theirs = {ours: names[i] for ours, i in where.items()}
    return LogScan(con, source, _validated(raw, theirs, type_map, rees46, engine_name(con)), rees46, str(path),
                   raw.get_name())


def _check_types(types: Mapping[str, str] | None) -> None:
    if types is None:
        return
    if not isinstance(types, Mapping):
        raise ValidationError("type_map", "a mapping of the file's interaction names onto ours", types)
    unknown = sorted({str(v) for v in types.values() if v not in INTERACTION_TYPES})
    if unknown:
        raise ValidationError("type_map", f"targets among {', '.join(INTERACTION_TYPES)}", unknown)


def _text(col: ir.Value) -> ir.StringValue:
    return col if col.type().is_string() else col.cast("string")


def _blank(col: ir.StringValue) -> ir.BooleanValue:
    return col.isnull() | (col.strip() == "")


def _empty(col: ir.Value) -> ir.BooleanValue:
    """`_blank` of the value's text, without writing it out: a number's text is blank only when it is NULL."""
    return col.isnull() if col.type().is_numeric() else _blank(_text(col))


@ibis.udf.scalar.builtin
def epoch(t: datetime) -> float:  # type: ignore[empty-body]
    """DuckDB's seconds since 1970 as a double (micros / 1e6, bit for bit Spark's cast of a timestamp to a
    double). It reads an instant as it is stored, where the portable `delta` needs a zone-free timestamp: that
    conversion cost more than all of a row's other checks together (7 of 11 CPU s on 30M rows)."""


def seconds(col: ir.Value, engine: str = "duckdb") -> ir.FloatingValue:
    """Unix seconds (float) from a timestamp, a number, or text that is either (ISO 8601, ' UTC' accepted,
    no offset meaning UTC); NULL where none of these. `engine` is `engine_name` of the backend it runs on."""
    kind = col.type()
    if kind.is_timestamp():
        return epoch(col) if engine == "duckdb" else col.cast("float64")
    if kind.is_date():
        return seconds(col.cast("timestamp"), engine)
    if kind.is_numeric():
        return col.cast("float64")
    text = _text(col).strip()
    number = text.try_cast("float64")
    stamp = text.replace(" UTC", "+00:00").try_cast("timestamp('UTC')")
    parsed = seconds(stamp, engine)
    return ibis.ifelse(text.re_search(r"^\d{4}-\d{2}-\d{2}"), parsed, number)


def _validated(raw: ir.Table, theirs: Mapping[str, str], types: Mapping[str, str] | None,
               rees46: bool, engine: str) -> ir.Table:
    """Our typed columns plus the first failing check per row, in `validate_chunk`'s order."""
    mapping = {**DEFAULT_TYPES, **(types or {})}
    raw_type = _text(raw[theirs["interaction_type"]]).strip() if rees46 else _text(raw[theirs["interaction_type"]])
    mapped = raw_type.substitute(mapping, else_=ibis.null("string"))
    skipped = raw_type.isin(list(SKIPPED_EVENT_TYPES)) & mapped.isnull()
    t = seconds(raw[theirs["timestamp"]], engine)
    latest = time.time() + MAX_FUTURE_SECONDS
    price_raw = raw[theirs["price"]] if "price" in theirs else ibis.null("string")
    price = price_raw.cast("float64") if "price" in theirs and price_raw.type().is_numeric() else (
        _text(price_raw).strip().try_cast("float64") if "price" in theirs else ibis.null("float64"))
    price_bad = (("price" in theirs) & ~_empty(price_raw) & (price.isnull() | price.isnan()
                                                                      | price.isinf() | (price < 0)))
    text = {c: (_text(raw[theirs[c]]) if c in theirs else ibis.literal("")) for c in TEXT_COLUMNS}
    shown = _text(raw[theirs["timestamp"]])
    ok = (mapped.notnull() & ~_empty(raw[theirs["user_id"]]) & ~_empty(raw[theirs["product_id"]])
          & t.notnull() & (t >= MIN_EVENT_TIME) & (t <= latest) & ~price_bad)  # no text built on the good path
    reason = ibis.ifelse(ok | skipped, ibis.null("string"), ibis.cases(
        (mapped.isnull() & ~skipped, ibis.literal("interaction_type: unknown ") + raw_type.fill_null("NULL")),
        (_empty(raw[theirs["user_id"]]), ibis.literal("user_id: empty")),
        (_empty(raw[theirs["product_id"]]), ibis.literal("product_id: empty")),
        (t.isnull(), ibis.literal("timestamp: expected ISO 8601 or unix seconds, got ") + shown.fill_null("NULL")),
        ((t < MIN_EVENT_TIME) | (t > latest),
         "timestamp: " + shown + " is outside 2000-01-01 UTC .. 5 minutes from now"),
        (price_bad, ibis.literal("price: expected a non-negative number, got ") + _text(price_raw)),
        else_=ibis.null("string")))
    extra = {"category_id": _text(raw["category_id"]) if rees46 and "category_id" in raw.columns
             else ibis.literal("")}
    cols = {c: (mapped if c == "interaction_type" else text[c].fill_null("")) for c in TEXT_COLUMNS}
    keys = {KEY + c: raw[theirs.get(c, c)] for c in ("user_id", "product_id", "category_id")
            if rees46 and theirs.get(c, c) in raw.columns and raw[theirs.get(c, c)].type().is_integer()}
    return raw.select(**cols, timestamp=t, price=ibis.ifelse(price.isnan(), ibis.null("float64"), price),
                      raw_type=raw_type, skipped=skipped, ok=ok, reason=reason, **extra, file=raw.file, row=raw.row,
                      **keys)
