"""Import real event logs (REES46 format) through the batch logging path."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from fincommerce.catalog.products import ProductCatalog
from fincommerce.errors import ValidationError
from fincommerce.schema import Product
from fincommerce.tracking.events import behaviour_text
from fincommerce.tracking.log import EventLog
from fincommerce.tracking.rees46 import iter_rees46

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """What `import_events` did; bad rows are listed, never fatal. Every data row is accounted for:
    rows = events_logged + already_present + duplicates_in_file + sum(skipped_types) + len(bad_rows)."""

    path: str
    rows: int = 0
    events_logged: int = 0
    already_present: int = 0
    duplicates_in_file: int = 0
    new_products: int = 0
    skipped_types: dict[str, int] = field(default_factory=dict)
    bad_rows: list[Any] = field(default_factory=list)

    def accounted(self) -> int:
        return (self.events_logged + self.already_present + self.duplicates_in_file
                + sum(self.skipped_types.values()) + len(self.bad_rows))


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


def import_rees46(catalog: ProductCatalog, events_log: EventLog, path: Path, *,
                  show_progress: bool = True) -> ImportReport:
    """Idempotent and streaming: chunk by chunk, each fully validated before its first write; event ids
    come from the events themselves, so a second import adds nothing."""
    report = ImportReport(str(path))
    try:
        for part in iter_rees46(path):
            report.rows += part.n_lines
            report.bad_rows.extend(part.bad_rows)
            report.duplicates_in_file += part.duplicates_in_file
            for kind, n in part.skipped_types.items():
                report.skipped_types[kind] = report.skipped_types.get(kind, 0) + n
            if not part.events.empty:
                _import_chunk(catalog, events_log, part.events, report, show_progress)
    except ValueError as exc:  # an unrecognised layout: the file, not a row, is wrong
        raise ValidationError("path", "a CSV in the REES46 layout", f"{path}: {exc}") from None
    if not report.rows - len(report.bad_rows):
        log.warning("No importable events in %s", path)
    log.info("Imported %s: %d events logged, %d already present, %d duplicates in the file, %d bad rows, "
             "%d new products, skipped %s", path.name, report.events_logged, report.already_present,
             report.duplicates_in_file, len(report.bad_rows), report.new_products, report.skipped_types or "nothing")
    return report


def _import_chunk(catalog: ProductCatalog, events_log: EventLog, events: pd.DataFrame, report: ImportReport,
                  show_progress: bool) -> None:
    """Stored events are recognised from their ids in one bulk read, before anything is built or embedded;
    every distinct text of the rest (new products' and events' behaviour sentences) is embedded in one
    batch call, so the writes after it only read the embedder's cache."""
    stored = events_log.stored(events["event_id"].tolist())
    report.already_present += int(stored.sum())
    events = events[~stored]
    if events.empty:
        return
    latest = events.drop_duplicates("product_id", keep="last")
    products = {p["id"]: p for p in _products(latest)}
    # one payload per product and price (prices are finite here): validation runs once per dict object
    payloads = {k: {**products[k[0]], "price": k[1]} for k in set(zip(events["product_id"], events["price"]))}
    batch = [{"event_id": r.event_id, "user_id": r.user_id, "product_payload": payloads[r.product_id, r.price],
              "interaction_type": r.interaction_type, "timestamp": r.timestamp}
             for r in events.itertuples(index=False)]
    parsed = events_log.validate(batch)  # everything in the chunk is checked before its first write
    known = catalog.known(list(products))
    new = [p for pid, p in products.items() if pid not in known]
    texts = dict.fromkeys([Product.from_mapping(p).text() for p in new] + [behaviour_text(e) for e in parsed])
    events_log.embedder.encode(list(texts), show_progress=show_progress)
    if new:
        report.new_products += catalog.index(new, show_progress=show_progress)
    logged = len(events_log.write(parsed, show_progress=show_progress))
    report.events_logged += logged
    report.already_present += len(batch) - logged


def _products(latest: pd.DataFrame) -> list[dict]:
    """`product_from_log` for each row, without building a Series per row."""
    return [product_from_log(r) for r in latest.to_dict("records")]
