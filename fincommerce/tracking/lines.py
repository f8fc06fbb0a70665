"""Line-per-record CSV reading shared by the log parsers: a stray quote costs its own line, never the
lines after it (the csv module would swallow everything up to the next quote)."""
from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import IO


def open_text(path: Path) -> IO[str]:
    """A log as text, gzip-compressed (`.gz`) or not; undecodable bytes become U+FFFD."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return path.open("r", encoding="utf-8-sig", errors="replace", newline="")


def split_line(text: str) -> list[str]:
    """The fields of one physical line (quotes honoured within the line only)."""
    if not text:
        return []
    if '"' not in text:
        return text.split(",")
    return next(csv.reader([text], strict=True))


def line_record(text: str, n_fields: int) -> tuple[str, ...] | str:
    """The fields of one line, or why the line is not a record."""
    try:
        row = split_line(text)
    except csv.Error as exc:
        return f"csv error: {exc}"
    return tuple(row) if len(row) == n_fields else f"expected {n_fields} fields, got {len(row)}"
