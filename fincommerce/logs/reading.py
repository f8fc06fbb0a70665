"""The one engine-specific step: a log's files as a table of their own columns plus `file` and `row`.

Everything after this (mapping, validation, aggregation) is one Ibis expression for every engine. CSV is
read as text (validation decides what a value is); rows DuckDB cannot split into the header's fields are
kept aside with their line (`structural_rejects`), counted per file, never loaded whole.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from fincommerce.logs.engine import engine_name
from fincommerce.logs.files import LogFiles
from fincommerce.tracking.lines import first_line, split_line
from fincommerce.tracking.rees46 import FIELDS as REES46_FIELDS
from fincommerce.tracking.rees46 import detect_layout

_names = itertools.count()


def _quoted(paths: tuple) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def read_rows(con: BaseBackend, source: LogFiles) -> ir.Table:
    """The log's rows on `con`: every column as the files have it (CSV: text), `file` and 1-based `row`."""
    view = f"fincommerce_log_{next(_names)}"
    if engine_name(con) == "duckdb":
        con.raw_sql("SET TimeZone = 'UTC'")
        if source.format == "parquet":
            sql = (f"SELECT * EXCLUDE (filename, file_row_number), filename AS file, file_row_number + 1 AS row "
                   f"FROM read_parquet({_quoted(source.files)}, filename = true, file_row_number = true)")
        else:
            header = _csv_header(source.files[0])
            sql = (f"SELECT *, '{source.files[0]}' AS file, row_number() OVER () AS row FROM read_csv("
                   f"{_quoted(source.files)}, {header}, all_varchar = true, ignore_errors = true, "
                   f"store_rejects = true, rejects_table = '{view}_rejects', rejects_scan = '{view}_scans', "
                   "auto_detect = true, parallel = false)")
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
        return con.table(view)
    return _spark_rows(con, source, view)


def _csv_header(path: Path) -> str:
    """read_csv's header options: the file's own, or REES46's names for its headerless pandas export
    (a leading index column, no user_session), recognised as `read_event_table` recognises it."""
    try:
        _, _, has_header = detect_layout(split_line(first_line(path) or ""))
    except ValueError:
        return "header = true"
    if has_header:
        return "header = true"
    names = ", ".join(f"'{n}'" for n in ("index", *REES46_FIELDS[:-1]))
    return f"header = false, names = [{names}]"


def _spark_rows(con: BaseBackend, source: LogFiles, view: str) -> ir.Table:
    """Spark: the file's name per row; rows numbered within their file by Spark's own read order."""
    from pyspark.sql import functions as F  # noqa: N812, PLC0415 - pyspark only on the Spark engine
    from pyspark.sql.window import Window  # noqa: PLC0415

    session = con._session
    files = [str(p) for p in source.files]
    reader = session.read.option("mode", "PERMISSIVE")
    frame = (reader.parquet(*files) if source.format == "parquet"
             else reader.option("header", "true").option("inferSchema", "false").csv(files))
    frame = frame.withColumn("file", F.input_file_name()).withColumn("_id", F.monotonically_increasing_id())
    frame = frame.withColumn("row", F.row_number().over(Window.partitionBy("file").orderBy("_id"))).drop("_id")
    frame.createOrReplaceTempView(view)
    return con.table(view)


def structural_rejects(con: BaseBackend, view: str, keep: int) -> tuple[dict[tuple[str, str], int],
                                                                               pd.DataFrame]:
    """CSV lines the engine could not split (DuckDB's rejects table): counts per (file, reason) and the
    first `keep` with their line. Scanned once by the caller before (counts need the scan to have run)."""
    if engine_name(con) != "duckdb":
        return {}, pd.DataFrame(columns=["file", "row", "reason"])
    try:
        lines = (f"SELECT s.file_path AS file, e.line AS row, min(e.error_type) AS kind, min(e.error_message) AS msg "
                 f"FROM {view}_rejects e JOIN {view}_scans s USING (scan_id, file_id) GROUP BY ALL")
        counts = con.raw_sql(f"SELECT file, kind, count(*) FROM ({lines}) GROUP BY ALL").fetchall()
        listed = con.raw_sql(f"SELECT file, row, 'csv ' || lower(replace(kind, '_', ' ')) || ': ' || msg AS reason "
                             f"FROM ({lines}) ORDER BY file, row LIMIT {int(keep)}").df()
    except Exception:  # noqa: BLE001 - no rejects table: the file had no such line (or is Parquet)
        return {}, pd.DataFrame(columns=["file", "row", "reason"])
    return {(str(f), f"csv {str(k).lower().replace('_', ' ')}"): int(n) for f, k, n in counts}, listed
