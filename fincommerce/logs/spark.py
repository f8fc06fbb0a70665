"""Connect to Spark ("local[2]" or a standalone master spark://host:port) with the driver JVM's logs in a file
and one clear error naming the URL when the master does not answer, never a JVM stack trace on the console."""
from __future__ import annotations

import logging
import os
import re
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from fincommerce.errors import ConfigError, EngineError

log = logging.getLogger(__name__)
MASTER_URL = re.compile(r"^(local(\[(\d+|\*)\])?|spark://(?P<host>[^:/]+):(?P<port>\d+))$")
LOG4J = """rootLogger.level = info
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n
"""


def check_master(master: str, timeout_s: float = 5.0) -> None:
    """Fails fast on a malformed URL or a standalone master that does not accept connections (Spark itself would
    retry for a minute and print stack traces)."""
    match = MASTER_URL.match(master)
    if match is None:
        raise ConfigError("spark master", "'local', 'local[N]' or 'spark://host:port'", master)
    if match["host"] is None:
        return
    try:
        with socket.create_connection((match["host"], int(match["port"])), timeout=timeout_s):
            pass
    except OSError as e:
        raise EngineError(f"Spark master {master} does not answer ({e.strerror or e}): start it, or give the "
                          "URL of a running master") from None


def log_settings(log_dir: Path) -> dict[str, str]:
    """Driver JVM options sending its log4j output to `log_dir`/driver.log instead of the console."""
    log_dir.mkdir(parents=True, exist_ok=True)
    config = log_dir / "log4j2.properties"
    config.write_text(LOG4J.format(path=log_dir / "driver.log"))
    return {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{config}"}


@contextmanager
def console_to(path: Path) -> Iterator[None]:
    """Points this process's stdout/stderr file descriptors at `path` while the driver JVM starts: the JVM
    inherits them and keeps writing its own notices there (the launcher prints some before log4j is set up)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


def spark_session(master: str = "local[2]", log_dir: Path | None = None, driver_memory_mb: int = 1024,
                  executor_memory_mb: int = 768, partitions: int = 8) -> SparkSession:
    """A Spark session on `master`; a running session on another master is stopped first (one JVM per
    process). Executors run this interpreter, so they read the same pandas/pyarrow as the driver."""
    check_master(master)
    active = SparkSession.getActiveSession()
    if active is not None:
        if active.sparkContext.master == master:
            return active
        active.stop()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="fincommerce-spark-driver-"))
    conf = {"spark.master": master, "spark.app.name": "fincommerce", "spark.driver.host": "127.0.0.1"
            if master.startswith(("local", "spark://127.", "spark://localhost")) else socket.gethostname(),
            "spark.driver.bindAddress": "0.0.0.0" if not master.startswith("local") else "127.0.0.1",
            "spark.driver.memory": f"{driver_memory_mb}m", "spark.executor.memory": f"{executor_memory_mb}m",
            "spark.sql.shuffle.partitions": str(partitions), "spark.sql.session.timeZone": "UTC",
            "spark.sql.ansi.enabled": "false",  # NULL, not an error, for text that is no number (the scan's checks)
            "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
            "spark.pyspark.python": sys.executable, "spark.pyspark.driver.python": sys.executable,
            "spark.sql.execution.arrow.pyspark.enabled": "true", **log_settings(log_dir)}
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    os.environ.setdefault("SPARK_LOCAL_IP", conf["spark.driver.host"])
    try:
        with console_to(log_dir / "driver-console.log"):
            session = builder.getOrCreate()
    except Exception as e:  # py4j/JVM failures: the detail goes to the debug log, the user gets one line
        log.debug("starting Spark on %s failed", master, exc_info=True)
        raise EngineError(f"Spark on {master} could not start ({type(e).__name__}): see {log_dir}/driver.log") from None
    log.debug("Spark session on %s; driver log in %s", master, log_dir)
    return session
