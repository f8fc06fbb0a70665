"""Which engine runs the log queries: DuckDB in-process (the default, nothing to start) or a Spark cluster.

Every analysis in this room is one Ibis expression; `connect` returns the Ibis backend it runs on, so the
same code path serves both. A Spark master that does not answer is one error naming its URL; the JVM's own
output goes to debug logging, never the console.
"""
from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from fincommerce.errors import ValidationError

log = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")
_tmp = itertools.count()
_checkpoints: dict[str, Any] = {}  # Spark: temp view name → its checkpointed RDD (a JVM object), freed by release
SPILL_PREFIX = "fincommerce-duckdb-"  # + the owner's pid, so an orphaned folder can be told from a live one
DUCKDB_MEMORY_LIMIT = "2GB"  # spills to disk beyond this, so peak RSS stays flat as logs grow


def connect(engine: str = "duckdb", master: str = "", *, threads: int | None = None) -> BaseBackend:
    """An Ibis backend for `engine`: "duckdb" (in-process, out of core) or "spark" (`master` such as
    "spark://127.0.0.1:7077", or "local[2]")."""
    if engine == "duckdb":
        return _duckdb(threads)
    if engine == "spark":
        return _spark(master)
    raise ValidationError("engine", f"one of {', '.join(ENGINES)}", engine)


def engine_name(con: BaseBackend) -> str:
    """"duckdb" or "spark": the few engine-specific steps (file scans) branch on it."""
    return "spark" if con.name == "pyspark" else con.name


def _duckdb(threads: int | None) -> BaseBackend:
    _remove_orphaned_spills()
    spill = tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-")
    con = ibis.duckdb.connect(memory_limit=DUCKDB_MEMORY_LIMIT, temp_directory=spill,
                              threads=threads or os.cpu_count() or 1)
    con.raw_sql("SET enable_progress_bar = false; SET TimeZone = 'UTC'")
    weakref.finalize(con, shutil.rmtree, spill, True)  # the spill folder goes with the connection
    return con


def _remove_orphaned_spills() -> None:
    """A process killed mid-query cannot remove its spill folder (a 100M-row log spills tens of GB); the next
    connection removes the folders of processes that no longer exist."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SPILL_PREFIX}*-*"):
        pid = folder.name[len(SPILL_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _spark(master: str) -> BaseBackend:
    """Ibis over a Spark session (`spark_session`: the URL checked first, JVM output kept off the console)."""
    from fincommerce.logs.spark import spark_session  # not a cycle: pyspark (0.2 s) only for Spark callers

    session = spark_session(master or "local[2]")
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session)


def release(table: ir.Table) -> None:
    """Frees what `materialize` kept (its spill files too) once its user is done with it."""
    con = table._find_backend()
    name = table.op().name
    if engine_name(con) == "duckdb":
        con.raw_sql(f"DROP TABLE IF EXISTS temp.main.{name}")
        return
    con._session.catalog.dropTempView(name)
    rdd = _checkpoints.pop(name, None)
    if rdd is not None:
        rdd.unpersist(False)


def materialize(table: ir.Table) -> ir.Table:
    """Computed once and kept in the engine. DuckDB: a temp table, spilled as needed. Spark: a local checkpoint
    (blocks on the executors), which also cuts the lineage: a plan over cached tables carries every table's
    plan beneath, and Spark's planner slowed with each (05's backtest of the October sample: 89 s → 46 s)."""
    con = table._find_backend()
    name = f"fincommerce_tmp_{next(_tmp)}"
    if engine_name(con) == "duckdb":
        return con.create_table(name, table, temp=True)
    con._run_pre_execute_hooks(table)  # register the in-memory tables (grids, keys) the query reads
    frame = con._session.sql(con.compile(table)).localCheckpoint(eager=True)
    frame.createOrReplaceTempView(name)
    _checkpoints[name] = frame._jdf.queryExecution().logical().rdd()
    return con.table(name)
