"""A real Spark standalone cluster on 127.0.0.1 (one master, N workers) started from pyspark's bundled jars, so
the Spark path can be tested and measured on one machine with nothing but Java 17 and the pyspark wheel."""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from pyspark.find_spark_home import _find_spark_home

from fincommerce.errors import EngineError

log = logging.getLogger(__name__)
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalCluster:
    """`with LocalCluster(workers=2) as c: spark_session(c.master_url)`. Every JVM it starts runs in its own
    process group and is stopped on exit (executors included), even when the body raised; the JVMs' output goes
    to files under `log_dir` (a temporary folder by default), never to the console."""

    workers: int = 2
    cores_per_worker: int = 1
    memory_mb_per_worker: int = 1024
    daemon_memory_mb: int = 256  # the master and worker daemons themselves; executors get memory_mb_per_worker
    start_timeout_s: float = 90.0
    log_dir: Path | None = None
    master_url: str = ""
    _procs: list[subprocess.Popen] = field(default_factory=list, repr=False)
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        if self.log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fincommerce-spark-")
            self.log_dir = Path(self._tmp.name)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        port, ui = free_port(), free_port()
        self.master_url = f"spark://127.0.0.1:{port}"
        self._launch("master", MASTER_CLASS, "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui))
        for i in range(self.workers):
            work = self.log_dir / f"worker-{i}-work"
            work.mkdir(exist_ok=True)
            self._launch(f"worker-{i}", WORKER_CLASS, "--host", "127.0.0.1", "--cores", str(self.cores_per_worker),
                         "--memory", f"{self.memory_mb_per_worker}m", "--webui-port", str(free_port()),
                         "--work-dir", str(work), self.master_url)
        self._wait_for_workers(ui)
        log.debug("Spark standalone cluster %s up with %d workers; JVM logs in %s", self.master_url, self.workers,
                  self.log_dir)

    def _launch(self, name: str, main_class: str, *args: str) -> None:
        home = _find_spark_home()
        env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
               "SPARK_DAEMON_MEMORY": f"{self.daemon_memory_mb}m", "SPARK_LOG_DIR": str(self.log_dir)}
        out = open(self.log_dir / f"{name}.log", "wb")  # the child inherits it; ours is closed right after
        try:
            proc = subprocess.Popen([str(Path(home) / "bin" / "spark-class"), main_class, *args], env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            out.close()
        self._procs.append(proc)
        log.debug("started Spark %s (pid %d): %s", name, proc.pid, " ".join(args))

    def _wait_for_workers(self, ui_port: int) -> None:
        """Polls the master's JSON status page until every worker registered; a JVM that dies first is named."""
        deadline = time.monotonic() + self.start_timeout_s
        alive = 0
        while time.monotonic() < deadline:
            for i, proc in enumerate(self._procs):
                if proc.poll() is not None:
                    name = "master" if i == 0 else f"worker-{i - 1}"
                    raise EngineError(f"Spark {name} exited with code {proc.returncode} while starting the local "
                                      f"cluster: see {self.log_dir / (name + '.log')}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as r:
                    alive = int(json.load(r).get("aliveworkers", 0))
            except OSError:
                alive = 0
            if alive >= self.workers:
                return
            time.sleep(0.5)
        raise EngineError(f"Spark master {self.master_url}: {alive} of {self.workers} workers registered within "
                          f"{self.start_timeout_s:g} s: see the logs in {self.log_dir}")

    def stop(self) -> None:
        """Stops the workers before the master, each whole process group (a worker's executors are its
        children), politely first and by SIGKILL after 15 s."""
        for proc in reversed(self._procs):
            _signal_group(proc, signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log.debug("Spark JVM %d did not stop on SIGTERM; killing it", proc.pid)
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        self._procs.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp, self.log_dir = None, None


def group_members(groups: set[int]) -> list[int]:
    """Every live process whose process group is one of `groups` (a JVM started here, or its executors)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in groups and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # the group this cluster created for the JVM (start_new_session)
    except ProcessLookupError:
        pass
