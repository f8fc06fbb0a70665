"""The kernels `fincommerce run` starts: local transport, a registry so Ctrl-C can stop them, and the background
lane's idle-CPU priority."""
from __future__ import annotations

import logging
import os
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default

log = logging.getLogger(__name__)


class PipelineKernelManager(AsyncKernelManager):
    """The pipeline's kernels: ZeroMQ over local IPC sockets (the kernel and papermill share this machine, so
    nothing listens on TCP and ipykernel has no plain-text transport to warn about), each recorded while it runs
    so that an interrupted run can stop them."""

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("ip")
    def _ip_default(self) -> str:
        """A socket path of this kernel's own: jupyter_client's default ("kernel-ipc" in the working folder) is
        shared by the two lanes' kernels, which then read each other's messages."""
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        return str(runtime / f"fincommerce-{uuid.uuid4().hex[:16]}-ipc")

    # numpy's OpenBLAS hands every product to a second thread; the notebooks' products are small
    # (a matrix-vector per replayed step) and two lanes share two cores, so the hand-off waits on a busy core:
    # one BLAS thread made the 02 next-view replay 2.3× faster and a whole run 12 % cheaper in CPU time.
    THREADS = {"OPENBLAS_NUM_THREADS": "1"}

    async def start_kernel(self, **kw: Any) -> None:
        kw["env"] = {**kw.get("env", os.environ), **self.THREADS}
        await super().start_kernel(**kw)
        pid = getattr(self.provisioner, "pid", None)
        if pid is not None:
            with _running_lock:
                _running_kernels.add(pid)

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        pid = getattr(self.provisioner, "pid", None)
        try:
            await super().shutdown_kernel(now=now, restart=restart)
        finally:
            with _running_lock:
                _running_kernels.discard(pid)


_running_kernels: set[int] = set()
_running_lock = threading.Lock()


def stop_running_kernels() -> int:
    """Kill every kernel the pipeline started that still runs (each leads its own process group); their
    notebooks then fail at once, so the lanes end. Returns how many were stopped."""
    with _running_lock:
        pids = sorted(_running_kernels)
        _running_kernels.clear()
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            log.debug("Kernel %d had already ended", pid)
    return len(pids)


class BackgroundKernelManager(PipelineKernelManager):
    """A kernel scheduled to run only on CPU time the foreground kernel leaves idle, so a background report
    costs the notebooks on the critical path little (`make bench`, threads: a foreground batch encode kept
    0.82 and 0.86 of its speed beside a background embedder run this way, in two runs). It gets one torch
    thread too: idle CPU is at most the one core the foreground leaves, and a second thread would wait on it."""

    THREADS = {**PipelineKernelManager.THREADS, "OMP_NUM_THREADS": "1"}

    async def start_kernel(self, **kw: Any) -> None:
        await super().start_kernel(**kw)
        pid = getattr(self.provisioner, "pid", None)
        if pid is not None:
            run_when_idle(pid)


def run_when_idle(pid: int) -> None:
    """SCHED_IDLE for the process's threads (those it starts later inherit it) and nice 19 for its autogroup:
    a kernel starts its own session, which Linux schedules as a group, so a thread's policy alone would only
    rank it within that group. Elsewhere (no such scheduler) the kernel simply runs at normal priority."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))
        Path(f"/proc/{pid}/autogroup").write_text("19")
    except (OSError, AttributeError) as exc:
        log.debug("Kernel %d keeps its normal priority: %s", pid, exc)
