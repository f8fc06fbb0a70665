"""Catalogue CSVs: a forgiving loader that reports bad rows, and the writer it reads back exactly."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fincommerce.errors import ValidationError

log = logging.getLogger(__name__)

CATALOG_COLUMNS: list[str] = ["id", "name", "brand", "categories", "price", "description"]
REQUIRED_COLUMNS: list[str] = ["id", "name", "price"]
_CATEGORY_SPLIT = re.compile(r"[|>;]")
_MAX_LOGGED_REASONS = 5


@dataclass(frozen=True)
class RowError:
    """A rejected CSV row, kept as data so callers can show users exactly what to fix."""

    row: int
    reason: str



def catalog_frame(ids: list[str], names: list[str], brands: list[str], categories: list[list[str]],
           prices: Any, descriptions: list[str]) -> pd.DataFrame:
    """Build frames one way for generator and loader so their dtypes always match."""
    return pd.DataFrame({
        "id": pd.Series(ids, dtype=str), "name": pd.Series(names, dtype=str),
        "brand": pd.Series(brands, dtype=str), "categories": pd.Series(categories, dtype=object),
        "price": pd.Series(prices, dtype=np.float64), "description": pd.Series(descriptions, dtype=str),
    })



def _parse_price(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def load_catalog_csv(path: str | Path) -> tuple[pd.DataFrame, list[RowError]]:
    """Load a user catalogue, skipping bad rows and returning them as RowErrors users can act on.

    Duplicates are checked against rows already accepted, so returned ids are always unique.
    """
    if not Path(path).is_file():
        raise ValidationError("csv", "a catalogue CSV file", str(path))
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise ValidationError(f"{path}", "a header with " + ", ".join(REQUIRED_COLUMNS),
                              f"missing column(s): {', '.join(missing)}")

    def column(name: str) -> list[str]:
        return raw[name].astype(str).str.strip().tolist() if name in raw.columns else [""] * len(raw)

    errors: list[RowError] = []
    seen: dict[str, int] = {}
    out: dict[str, list[Any]] = {c: [] for c in CATALOG_COLUMNS}
    rows = zip(column("id"), column("name"), column("brand"), column("categories"),
               column("price"), column("description"))
    for row_no, (pid, name, brand, cats, price_text, desc) in enumerate(rows, start=1):
        reasons = []
        if not pid:
            reasons.append("id: missing or empty")
        elif pid in seen:
            reasons.append(f"id: duplicate of row {seen[pid]} ({pid!r})")
        if not name:
            reasons.append("name: missing or empty")
        price = _parse_price(price_text)
        if price is None:
            reasons.append(f"price: expected a non-negative number, got {price_text!r}")
        if reasons:
            errors.append(RowError(row_no, "; ".join(reasons)))
            continue
        seen[pid] = row_no
        for key, value in (("id", pid), ("name", name), ("brand", brand), ("price", price),
                           ("description", desc)):
            out[key].append(value)
        out["categories"].append([c.strip() for c in _CATEGORY_SPLIT.split(cats) if c.strip()])

    if errors:
        first = "; ".join(f"row {e.row}: {e.reason}" for e in errors[:_MAX_LOGGED_REASONS])
        log.warning("Skipped %d of %d rows in %s (first: %s)", len(errors), len(raw), path, first)
    frame = catalog_frame(out["id"], out["name"], out["brand"], out["categories"], out["price"],
                   out["description"])
    return frame, errors


def save_catalog(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a catalogue in exactly the CSV format load_catalog_csv reads back."""
    missing = [c for c in CATALOG_COLUMNS if c not in df.columns]
    if missing:
        raise ValidationError("catalogue", "the columns " + ", ".join(CATALOG_COLUMNS),
                              f"missing column(s): {', '.join(missing)}")
    out = df[CATALOG_COLUMNS].copy()
    out["categories"] = [
        "|".join(str(c) for c in v) if isinstance(v, (list, tuple, np.ndarray))
        else "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        for v in out["categories"]
    ]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(target, index=False, encoding="utf-8")
    log.info("Saved %d products to %s", len(out), target)
    return target
