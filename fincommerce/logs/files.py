"""Which files a log is: one CSV (plain or .gz) or Parquet file, a folder of Parquet files, or a glob.

Checked before any engine reads a row, so a glob that matches nothing, a folder of mixed formats or
Parquet files whose columns disagree is one error naming the file, not an engine's stack trace.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fincommerce.errors import ValidationError, relative_path_hint

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".gz")
ENGINE_MIN_BYTES = 64 * 2**20  # a log this big on disk is scanned by the engine, not loaded into pandas


@dataclass(frozen=True)
class LogFiles:
    """The files of one log, all of one format, and the column names they share."""

    files: tuple[Path, ...]
    format: str  # "parquet" or "csv"
    names: tuple[str, ...]  # Parquet: the shared schema's names; CSV: filled in by the scan (header)
    schema: pa.Schema | None = None

    @property
    def label(self) -> str:
        return self.files[0].name if len(self.files) == 1 else f"{self.files[0].parent.name}/ ({len(self.files)} files)"


def log_files(path: str | Path) -> LogFiles:
    """Resolve `path` (file, folder or glob) to its files and check that they form one log."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise ValidationError("events_path", "a glob that matches at least one log file", text)
    elif Path(text).is_dir():
        files = sorted(p for p in Path(text).rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        if not files:
            raise ValidationError("events_path", "a folder with at least one Parquet file", text)
    elif Path(text).is_file():
        files = [Path(text)]
    else:
        raise FileNotFoundError(f"event log not found: {text}{relative_path_hint(Path(text))}")
    kinds = {_format(p) for p in files}
    if len(kinds) > 1:
        other = next(p for p in files if _format(p) != _format(files[0]))
        raise ValidationError(str(other), f"a {_format(files[0])} file like {files[0].name} (one format per log)",
                              _format(other))
    kind = kinds.pop()
    if kind == "csv" and len(files) > 1:
        raise ValidationError("events_path", "one CSV file (or a folder or glob of Parquet files)",
                              f"{len(files)} CSV files")
    if kind == "parquet":
        schema = _shared_schema(files)
        return LogFiles(tuple(files), kind, tuple(schema.names), schema)
    return LogFiles(tuple(files), kind, ())


def _format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise ValidationError(str(path), "a .csv, .csv.gz, .parquet or .pq file", path.suffix or "no suffix")


def _shared_schema(files: list[Path]) -> pa.Schema:
    """The first file's schema; another file with other column names or types is named (metadata only)."""
    first = None
    for path in files:
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            raise ValidationError(str(path), "a readable Parquet file", f"{type(exc).__name__}: {exc}") from None
        if first is None:
            first = schema
            continue
        if schema.names != first.names or not schema.remove_metadata().equals(first.remove_metadata()):
            theirs = {f.name: str(f.type) for f in schema}
            ours = {f.name: str(f.type) for f in first}
            diff = sorted(set(theirs.items()) ^ set(ours.items()))[:4]
            raise ValidationError(str(path), f"the columns of {files[0].name} (one schema per Parquet log)",
                                  ", ".join(f"{n}: {t}" for n, t in diff) or "columns in another order")
    assert first is not None
    return first


def use_engine(events_path: str | Path, engine: str) -> bool:
    """Spark always; DuckDB for logs of at least ENGINE_MIN_BYTES on disk. Below that, pandas and the numpy
    backtest are faster (the November file: 05's full grid the same to the last digit either way, the
    engine slower), and the notebook skips importing Ibis and DuckDB (~2 s) altogether."""
    if engine == "spark":
        return True
    return sum(p.stat().st_size for p in log_files(events_path).files) >= ENGINE_MIN_BYTES
