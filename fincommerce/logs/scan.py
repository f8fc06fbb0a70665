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
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis import _
from ibis.backends import BaseBackend

from fincommerce.errors import ValidationError
from fincommerce.logs.engine import connect
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
KEY = "key_"  # prefix of the typed copies of integer ids that REES46's merge groups on


@dataclass
class LogScan:
    """A scanned log: `rows` is every data row with `reason`; `events` the usable ones, deduplicated for REES46."""

    con: BaseBackend
    source: LogFiles
    rows: ir.Table  # our columns + raw_type, category_id, skipped, reason, file, row
    rees46: bool
    path: str
    view: str  # the engine's name for the raw rows (DuckDB keeps CSV rejects beside it)

    @property
    def events(self) -> ir.Table:
        """Usable events with their first `file` and `row`; a REES46 event repeated in the log counts once."""
        good = self.rows.filter(self.rows.reason.isnull() & ~self.rows.skipped)
        out = [*COLUMNS, "category_id", "file", "row"]
        if not self.rees46:
            return good.select(*out)
        return _merged(good, [c for c in good.columns if c.startswith(KEY)], out)


def _merged(good: ir.Table, typed: list[str], out: list[str]) -> ir.Table:
    """REES46's repeats merged exactly by one group-by over the whole key, with the integer ids grouped as the
    file types them (their text is one-to-one with them, and is written once per merged event, afterwards)."""
    ids = {c[len(KEY):]: c for c in typed}
    full = [c for c in (*COLUMNS, "category_id") if c not in ids]  # the key of old, ids swapped for typed ones
    merged = good.group_by([*full, "raw_type", *typed]).aggregate(file=_.file.min(), row=_.row.min())
    texts = {c: merged[k].cast("string") if c == "category_id" else merged[k].cast("string").fill_null("")
             for c, k in ids.items()}  # as `_validated` spells them
    return merged.mutate(**texts).select(*out)


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
    return LogScan(con, source, _validated(raw, theirs, type_map, rees46), rees46, str(path),
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


def seconds(col: ir.Value) -> ir.FloatingValue:
    """Unix seconds (float) from a timestamp, a number, or text that is either (ISO 8601, ' UTC' accepted,
    no offset meaning UTC); NULL where none of these."""
    kind = col.type()
    if kind.is_timestamp() and kind.timezone is not None:
        return seconds(col.cast("timestamp"))
    if kind.is_timestamp():
        micros = col.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="microsecond")  # DuckDB and Spark alike
        return micros.cast("float64") / 1e6
    if kind.is_date():
        return seconds(col.cast("timestamp"))
    if kind.is_numeric():
        return col.cast("float64")
    text = _text(col).strip()
    number = text.try_cast("float64")
    stamp = text.replace(" UTC", "+00:00").try_cast("timestamp('UTC')").cast("timestamp")
    parsed = seconds(stamp)
    return ibis.ifelse(text.re_search(r"^\d{4}-\d{2}-\d{2}"), parsed, number)


def _validated(raw: ir.Table, theirs: Mapping[str, str], types: Mapping[str, str] | None,
               rees46: bool) -> ir.Table:
    """Our typed columns plus the first failing check per row, in `validate_chunk`'s order."""
    mapping = {**DEFAULT_TYPES, **(types or {})}
    raw_type = _text(raw[theirs["interaction_type"]]).strip() if rees46 else _text(raw[theirs["interaction_type"]])
    mapped = raw_type.substitute(mapping, else_=ibis.null("string"))
    skipped = raw_type.isin(list(SKIPPED_EVENT_TYPES)) & mapped.isnull()
    t = seconds(raw[theirs["timestamp"]])
    latest = time.time() + MAX_FUTURE_SECONDS
    price_raw = raw[theirs["price"]] if "price" in theirs else ibis.null("string")
    price = price_raw.cast("float64") if "price" in theirs and price_raw.type().is_numeric() else (
        _text(price_raw).strip().try_cast("float64") if "price" in theirs else ibis.null("float64"))
    price_bad = (("price" in theirs) & ~_empty(price_raw) & (price.isnull() | price.isnan()
                                                                      | price.isinf() | (price < 0)))
    text = {c: (_text(raw[theirs[c]]) if c in theirs else ibis.literal("")) for c in TEXT_COLUMNS}
    shown = _text(raw[theirs["timestamp"]])
    reason = (ibis.cases(
        (mapped.isnull() & ~skipped, ibis.literal("interaction_type: unknown ") + raw_type.fill_null("NULL")),
        (_empty(raw[theirs["user_id"]]), ibis.literal("user_id: empty")),
        (_empty(raw[theirs["product_id"]]), ibis.literal("product_id: empty")),
        (t.isnull(), ibis.literal("timestamp: expected ISO 8601 or unix seconds, got ") + shown.fill_null("NULL")),
        ((t < MIN_EVENT_TIME) | (t > latest),
         "timestamp: " + shown + " is outside 2000-01-01 UTC .. 5 minutes from now"),
        (price_bad, ibis.literal("price: expected a non-negative number, got ") + _text(price_raw)),
        else_=ibis.null("string")))
    reason = ibis.ifelse(skipped, ibis.null("string"), reason)
    extra = {"category_id": _text(raw["category_id"]) if rees46 and "category_id" in raw.columns
             else ibis.literal("")}
    cols = {c: (mapped if c == "interaction_type" else text[c].fill_null("")) for c in TEXT_COLUMNS}
    keys = {KEY + c: raw[theirs.get(c, c)] for c in ("user_id", "product_id", "category_id")
            if rees46 and theirs.get(c, c) in raw.columns and raw[theirs.get(c, c)].type().is_integer()}
    return raw.select(**cols, timestamp=t, price=ibis.ifelse(price.isnan(), ibis.null("float64"), price),
                      raw_type=raw_type, skipped=skipped, reason=reason, **extra, file=raw.file, row=raw.row,
                      **keys)
