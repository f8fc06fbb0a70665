"""Import real event logs (REES46 format) through the batch logging path."""
from __future__ import annotations

import gc
import logging
import pickle
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from fincommerce.catalog.products import ProductCatalog
from fincommerce.errors import ValidationError
from fincommerce.schema import Interaction, Product
from fincommerce.store.ids import event_point_ids
from fincommerce.tracking.events import behaviour_text
from fincommerce.tracking.import_rows import Memo, interactions
from fincommerce.tracking.lines import Break
from fincommerce.tracking.log import EventLog
from fincommerce.tracking.rees46 import CHUNK_LINES, BadRow, BadRows, ParsedLog, iter_rees46

log = logging.getLogger(__name__)
_ROW = ("product_id", "category_id", "category_code", "brand", "price")  # what `product_from_log` reads
MEMO = 100_000  # product rows (and validated payloads) remembered between chunks and day files (~60 MB each)
# A collection holding this many points not optimized yet is optimized when a file's import ends; until then
# the engine keeps them in memory (~250 B an event). Optimizing each day of a month (20k) cost 21 CPU s for
# 288k events, mostly merging the growing segment again; every 100k, 4.9 s. make test's imports stay below.
OPTIMIZE_AFTER = 100_000


@dataclass
class ImportReport:
    """What `import_events` did; bad rows are counted, never fatal. Every data row is accounted for:
    rows = events_logged + already_present + duplicates_in_file + sum(skipped_types) + n_bad."""

    path: str
    rows: int = 0
    events_logged: int = 0
    already_present: int = 0
    duplicates_in_file: int = 0
    new_products: int = 0
    skipped_types: dict[str, int] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)  # the first MAX_BAD_ROWS_KEPT, by line
    bad_counts: dict[str, int] = field(default_factory=dict)  # every bad row, by kind
    broken: Break | None = None  # a truncated or corrupt file: the rows before this line were imported

    @property
    def n_bad(self) -> int:
        return sum(self.bad_counts.values())

    def accounted(self) -> int:
        return (self.events_logged + self.already_present + self.duplicates_in_file
                + sum(self.skipped_types.values()) + self.n_bad)


_MEMO = Memo()  # what an import learns of products, for the next chunk and the next day's file (bounded)


def product_from_log(row: Mapping[str, Any]) -> dict:
    """REES46 has no titles: name from brand + category_code ("Samsung Smartphone")."""
    code = row["category_code"] or ""
    parts = [p.replace("_", " ").title() for p in code.split(".") if p]
    brand = (row["brand"] or "").title()
    kind = parts[-1] if parts else f"Item {row['product_id']}"
    categories = parts or [f"Category {row['category_id']}"]
    return {"id": row["product_id"], "name": f"{brand} {kind}".strip(), "brand": brand,
            "categories": categories, "price": float(row["price"]),
            "description": f"{brand} {' '.join(parts).lower()}".strip()}


def import_rees46(catalog: ProductCatalog, events_log: EventLog, path: Path, *, show_progress: bool = True,
                  chunk_lines: int = CHUNK_LINES) -> ImportReport:
    """Idempotent and streaming, in two passes: the first parses the whole file without writing, so nothing
    in the file (its layout, an unreadable stretch, a row no check foresaw) can stop the import once part of
    it is stored, and keeps the parsed chunks in a temporary file (parsing is a third of the time that is not
    embedding: it runs once); the second validates and writes chunk by chunk, a row the event log rejects
    becoming a bad row. Event ids come from the events themselves, so a second import adds nothing. A file
    that breaks part-way is imported up to the break (`broken`)."""
    path = Path(path)
    report, bad = ImportReport(str(path)), BadRows()
    with tempfile.TemporaryFile(prefix="fincommerce-import-") as spill:
        for part in _paused(_parts(path, chunk_lines)):  # the first pass keeps what it parsed on disk
            pickle.dump(part, spill, protocol=pickle.HIGHEST_PROTOCOL)
        spill.seek(0)
        for part in _spilled(spill):
            with _gc_paused():
                _import_part(catalog, events_log, part, report, bad, _MEMO, show_progress)
    events_log.store.optimize(min_new=OPTIMIZE_AFTER)
    if report.rows == report.n_bad:
        log.warning("No importable events in %s", path)
    log.info("Imported %s: %d events logged, %d already present, %d duplicates in the file, %d bad rows, "
             "%d new products, skipped %s%s", path.name, report.events_logged, report.already_present,
             report.duplicates_in_file, report.n_bad, report.new_products, report.skipped_types or "nothing",
             f"; the file is {report.broken}" if report.broken else "")
    return report


def _import_part(catalog: ProductCatalog, events_log: EventLog, part: ParsedLog, report: ImportReport,
                 bad: BadRows, memo: Memo, show_progress: bool) -> None:
    report.rows += part.n_lines
    report.duplicates_in_file += part.duplicates_in_file
    report.broken = part.broken or report.broken
    for kind, n in part.skipped_types.items():
        report.skipped_types[kind] = report.skipped_types.get(kind, 0) + n
    events, parsed, rejected = _validated(events_log, part, memo)
    bad.add(part.bad_rows + rejected)
    report.bad_rows, report.bad_counts = bad.listed, bad.counts
    if parsed:
        _import_chunk(catalog, events_log, events, parsed, report, memo, show_progress)
        events_log.store.flush()  # else the engine keeps ~230 B more per event in memory, for the whole import


@contextmanager
def _gc_paused() -> Iterator[None]:
    """One chunk without the cyclic collector: its per-event objects are freed by reference counting, while
    the collector rescans every cached object each time it runs (~1/3 of the validation time). It runs again
    between chunks, so a cycle made in one is collected."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _paused(parts: Iterator[ParsedLog]) -> Iterator[ParsedLog]:
    """`parts`, each made with the collector paused."""
    it = iter(parts)
    while True:
        with _gc_paused():
            part = next(it, None)
        if part is None:
            return
        yield part


def _spilled(spill: IO[bytes]) -> Iterator[ParsedLog]:
    while True:
        try:
            yield pickle.load(spill)
        except EOFError:
            return


def _parts(path: Path, chunk_lines: int) -> Iterator[ParsedLog]:
    """The parsed chunks; a file in no REES46 layout is one error naming it."""
    try:
        yield from iter_rees46(path, chunk_lines)
    except ValidationError:
        raise
    except ValueError as exc:  # an unrecognised layout: the file, not a row, is wrong
        raise ValidationError("path", "a CSV in the REES46 layout", f"{path}: {exc}") from None


def _validated(events_log: EventLog, part: ParsedLog, memo: Memo) -> tuple[pd.DataFrame, list[Interaction],
                                                                          list[BadRow]]:
    """The chunk as the event log will store it; a row it rejects is a bad row (the parser's own limits
    make that rare, so the row-by-row search runs only when the whole chunk fails)."""
    events = part.events
    if events.empty:
        return events, [], []
    products = {p["id"]: p for p in _products(events.drop_duplicates("product_id", keep="last"), memo.rows)}
    fast = interactions(events, products, events_log.weights, memo.checked)
    if fast is not None:
        return events, fast, []
    batch = _batch(events)
    try:
        return events, events_log.validate(batch), []
    except ValidationError:
        pass
    parsed: list[Interaction] = []
    ok = np.zeros(len(batch), dtype=bool)
    rejected = []
    for i, row in enumerate(batch):
        try:
            parsed.extend(events_log.validate([row]))
            ok[i] = True
        except ValidationError as exc:
            where = exc.field.split(".", 1)[-1]
            rejected.append(BadRow(int(part.lines[i]), f"{where}: expected {exc.expected}"))
    return events[ok].reset_index(drop=True), parsed, rejected


def _batch(events: pd.DataFrame) -> list[dict[str, Any]]:
    """Event-log rows; one payload dict per product and price, so each is validated once."""
    latest = events.drop_duplicates("product_id", keep="last")
    products = {p["id"]: p for p in _products(latest)}
    keys = set(zip(events["product_id"], events["price"], strict=True))
    payloads = {k: {**products[k[0]], "price": k[1]} for k in keys}
    return [{"event_id": r.event_id, "user_id": r.user_id, "product_payload": payloads[r.product_id, r.price],
             "interaction_type": r.interaction_type, "timestamp": r.timestamp}
            for r in events.itertuples(index=False)]


def _import_chunk(catalog: ProductCatalog, events_log: EventLog, events: pd.DataFrame, parsed: list[Interaction],
                  report: ImportReport, memo: Memo, show_progress: bool) -> None:
    """Stored events are recognised from their ids in one bulk read, before anything is built or embedded;
    every distinct text of the rest (new products' and events' behaviour sentences) is embedded in one
    batch call, so the writes after it only read the embedder's cache."""
    point_ids = event_point_ids([e.event_id for e in parsed])
    stored = events_log.stored_points(point_ids)
    report.already_present += int(stored.sum())
    if stored.all():
        return
    if stored.any():
        events = events[~stored]
        parsed = [e for e, s in zip(parsed, stored, strict=True) if not s]
        point_ids = [i for i, s in zip(point_ids, stored, strict=True) if not s]
    products = {p["id"]: p for p in _products(events.drop_duplicates("product_id", keep="last"), memo.rows)}
    known = catalog.known(list(products))
    new = [p for pid, p in products.items() if pid not in known]
    first = np.flatnonzero(~events.duplicated(["interaction_type", "product_id", "price"]).to_numpy())
    texts = dict.fromkeys([Product.from_mapping(p).text() for p in new]  # a sentence is the type's, product's, price's
                          + [behaviour_text(parsed[i]) for i in first.tolist()])
    events_log.embedder.encode(list(texts), show_progress=show_progress)
    if new:
        report.new_products += catalog.index(new, show_progress=show_progress)
    logged = len(events_log.write(parsed, show_progress=show_progress, point_ids=point_ids, unseen=True))
    report.events_logged += logged
    report.already_present += len(parsed) - logged


def _products(latest: pd.DataFrame, memo: dict[tuple[Any, ...], dict] | None = None) -> list[dict]:
    """`product_from_log` for each row, read by column (pandas' Arrow strings are slow to read row by row);
    `memo` keeps the dicts across an import's chunks, which repeat most products."""
    memo = {} if memo is None else memo
    if len(memo) > MEMO:
        memo.clear()
    cols = [latest[c].to_numpy(dtype=object) for c in _ROW[:-1]]
    out = []
    for key in zip(*cols, latest["price"].to_numpy(dtype=np.float64).tolist()):
        p = memo.get(key)
        if p is None:
            p = memo[key] = product_from_log(dict(zip(_ROW, key)))
        out.append(p)
    return out
