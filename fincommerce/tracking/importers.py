"""Import real event logs (REES46 format) through the batch logging path."""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fincommerce.catalog.products import ProductCatalog
from fincommerce.errors import ValidationError
from fincommerce.schema import Interaction, Product
from fincommerce.tracking.events import behaviour_text
from fincommerce.tracking.lines import Break
from fincommerce.tracking.log import EventLog
from fincommerce.tracking.rees46 import CHUNK_LINES, BadRow, BadRows, ParsedLog, iter_rees46

log = logging.getLogger(__name__)


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
    """Idempotent and streaming, in two passes: the first parses the whole file without writing (cheap next
    to embedding), so nothing in the file (its layout, an unreadable stretch, a row no check foresaw) can
    stop the import once part of it is stored; the second validates and writes chunk
    by chunk, a row the event log rejects becoming a bad row. Event ids come from the events themselves,
    so a second import adds nothing. A file that breaks part-way is imported up to the break (`broken`)."""
    path = Path(path)
    for _ in _parts(path, chunk_lines):
        pass
    report, bad = ImportReport(str(path)), BadRows()
    for part in _parts(path, chunk_lines):
        report.rows += part.n_lines
        report.duplicates_in_file += part.duplicates_in_file
        report.broken = part.broken or report.broken
        for kind, n in part.skipped_types.items():
            report.skipped_types[kind] = report.skipped_types.get(kind, 0) + n
        events, parsed, rejected = _validated(events_log, part)
        bad.add(part.bad_rows + rejected)
        report.bad_rows, report.bad_counts = bad.listed, bad.counts
        if parsed:
            _import_chunk(catalog, events_log, events, parsed, report, show_progress)
    if report.rows == report.n_bad:
        log.warning("No importable events in %s", path)
    log.info("Imported %s: %d events logged, %d already present, %d duplicates in the file, %d bad rows, "
             "%d new products, skipped %s%s", path.name, report.events_logged, report.already_present,
             report.duplicates_in_file, report.n_bad, report.new_products, report.skipped_types or "nothing",
             f"; the file is {report.broken}" if report.broken else "")
    return report


def _parts(path: Path, chunk_lines: int) -> Iterator[ParsedLog]:
    """The parsed chunks; a file in no REES46 layout is one error naming it."""
    try:
        yield from iter_rees46(path, chunk_lines)
    except ValidationError:
        raise
    except ValueError as exc:  # an unrecognised layout: the file, not a row, is wrong
        raise ValidationError("path", "a CSV in the REES46 layout", f"{path}: {exc}") from None


def _validated(events_log: EventLog, part: ParsedLog) -> tuple[pd.DataFrame, list[Interaction], list[BadRow]]:
    """The chunk as the event log will store it; a row it rejects is a bad row (the parser's own limits
    make that rare, so the row-by-row search runs only when the whole chunk fails)."""
    events = part.events
    if events.empty:
        return events, [], []
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
                  report: ImportReport, show_progress: bool) -> None:
    """Stored events are recognised from their ids in one bulk read, before anything is built or embedded;
    every distinct text of the rest (new products' and events' behaviour sentences) is embedded in one
    batch call, so the writes after it only read the embedder's cache."""
    stored = events_log.stored(events["event_id"].tolist())
    report.already_present += int(stored.sum())
    events = events[~stored]
    parsed = [e for e, s in zip(parsed, stored, strict=True) if not s]
    if events.empty:
        return
    products = {p["id"]: p for p in _products(events.drop_duplicates("product_id", keep="last"))}
    known = catalog.known(list(products))
    new = [p for pid, p in products.items() if pid not in known]
    texts = dict.fromkeys([Product.from_mapping(p).text() for p in new] + [behaviour_text(e) for e in parsed])
    events_log.embedder.encode(list(texts), show_progress=show_progress)
    if new:
        report.new_products += catalog.index(new, show_progress=show_progress)
    logged = len(events_log.write(parsed, show_progress=show_progress))
    report.events_logged += logged
    report.already_present += len(parsed) - logged


def _products(latest: pd.DataFrame) -> list[dict]:
    """`product_from_log` for each row, without building a Series per row."""
    return [product_from_log(r) for r in latest.to_dict("records")]
