"""Which engine runs the log queries: DuckDB in-process (the default, nothing to start) or a Spark cluster.

Every analysis in this room is one Ibis expression; `connect` returns the Ibis backend it runs on, so the
same code path serves both. A Spark master that does not answer is one error naming its URL; the JVM's own
output goes to debug logging, never the console.
"""
from __future__ import annotations

import logging
import os
import socket
import tempfile
from urllib.parse import urlparse

import ibis
from ibis.backends import BaseBackend

from fincommerce.errors import ValidationError

log = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")
DUCKDB_MEMORY_LIMIT = "2GB"  # spills to disk beyond this, so peak RSS stays flat as logs grow
MASTER_TIMEOUT_SECONDS = 5.0


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
    spill = tempfile.mkdtemp(prefix="fincommerce-duckdb-")
    con = ibis.duckdb.connect(memory_limit=DUCKDB_MEMORY_LIMIT, temp_directory=spill,
                              threads=threads or os.cpu_count() or 1)
    con.raw_sql("SET enable_progress_bar = false; SET TimeZone = 'UTC'")
    return con


def _check_master(master: str) -> None:
    """A spark:// master must answer on its port before a JVM is started against it."""
    url = urlparse(master)
    if url.scheme != "spark":
        if not master.startswith("local"):
            raise ValidationError("master", "spark://HOST:PORT or local[N]", master)
        return
    try:
        with socket.create_connection((url.hostname or "", url.port or 7077), timeout=MASTER_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        raise ValidationError("master", "a Spark master that answers", f"{master} ({exc.strerror or exc})") from None


def _spark(master: str) -> BaseBackend:
    _check_master(master or "local[2]")
    from pyspark.sql import SparkSession  # noqa: PLC0415 - a JVM only for those who ask for Spark

    builder = (SparkSession.builder.master(master or "local[2]").appName("fincommerce-logs")
               .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
               .config("spark.sql.ansi.enabled", "false").config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1"))
    try:
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
    except Exception as exc:  # noqa: BLE001 - a JVM failure is one line for the user, the trace at debug
        log.debug("Spark failed to start", exc_info=True)
        raise ValidationError("master", "a Spark master that accepts this application",
                              f"{master}: {str(exc).splitlines()[0][:200]}") from None
    return ibis.pyspark.connect(session)
