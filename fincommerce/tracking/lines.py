"""Line-per-record CSV reading shared by the log parsers: a stray quote costs its own line, never the
lines after it (the csv module would swallow everything up to the next quote); an over-long line costs
bounded memory; a compressed file that breaks ends the lines with a note of where."""
from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

# Ten fields of at most 1,000 characters fit many times over; a longer line is junk, read past in pieces.
MAX_LINE_CHARS = 1_000_000
LINE_TOO_LONG = f"line longer than {MAX_LINE_CHARS:,} characters"


@dataclass(frozen=True)
class Break:
    """Where a file stopped being readable: the rows before `line` were read, nothing from it on."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"unreadable from line {self.line:,} on ({self.reason})"


def open_text(path: Path) -> IO[str]:
    """A log as text, gzip-compressed (`.gz`) or not; undecodable bytes become U+FFFD."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return path.open("r", encoding="utf-8-sig", errors="replace", newline="")


class LogLines:
    """The physical lines of a log as (line number, text without its newline), text None for a line over
    `max_chars`. A truncated or corrupt compressed file ends the lines and sets `broken`, so callers keep
    what was readable and can say where the file broke."""

    def __init__(self, path: Path, max_chars: int = MAX_LINE_CHARS) -> None:
        self.path = path
        self.max_chars = max_chars
        self.broken: Break | None = None

    def __iter__(self) -> Iterator[tuple[int, str | None]]:
        fh = open_text(self.path)
        line_no, cut_at_cr = 0, False
        size = self.max_chars + 2
        try:
            for text in iter(partial(fh.readline, size), ""):
                if cut_at_cr:  # the last read stopped between the \r and \n of one line end
                    cut_at_cr = False
                    if text == "\n":
                        continue
                line_no += 1
                if len(text) < size or text[-1] in "\r\n":
                    yield line_no, text.rstrip("\r\n")
                else:
                    while text and text[-1] not in "\r\n":
                        text = fh.readline(size)
                    yield line_no, None
                cut_at_cr = len(text) == size and text[-1] == "\r"
        except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            self.broken = Break(line_no + 1, f"{type(exc).__name__}: {exc}")
        finally:
            fh.close()


def first_line(path: Path) -> str | None:
    """The first line (None when over-long, empty or unreadable), read in bounded memory."""
    for _, text in LogLines(path):
        return text
    return None


def split_line(text: str) -> list[str]:
    """The fields of one physical line (quotes honoured within the line only)."""
    if not text:
        return []
    fields = text.split(",")
    if '"' not in text:
        return fields
    if "\r" in text or "\n" in text or "\0" in text:
        return next(csv.reader([text], strict=True))
    for i, f in enumerate(fields):  # fields wholly quoted, no quote or comma inside: what csv makes of them
        if '"' in f:
            if len(f) < 2 or f[0] != '"' or f[-1] != '"' or '"' in f[1:-1]:
                return next(csv.reader([text], strict=True))
            fields[i] = f[1:-1]
    return fields


def line_record(text: str | None, n_fields: int) -> tuple[str, ...] | str:
    """The fields of one line, or why the line is not a record."""
    if text is None:
        return LINE_TOO_LONG
    try:
        row = split_line(text)
    except csv.Error as exc:
        return f"csv error: {exc}"
    return tuple(row) if len(row) == n_fields else f"expected {n_fields} fields, got {len(row)}"
