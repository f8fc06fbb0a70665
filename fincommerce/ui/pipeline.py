"""The pipeline: run the notebooks with papermill on the project's kernel, render reports, write the index."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import papermill
from jupyter_client.kernelspec import KernelSpecManager

from fincommerce.config import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from fincommerce.errors import ConfigError, NotebookError
from fincommerce.ui.kernels import (
    BackgroundKernelManager,
    PipelineKernelManager,
    run_when_idle,  # noqa: F401  (the benchmarks measure it as pipeline.run_when_idle)
    stop_running_kernels,
)
from fincommerce.ui.reports import read_records, render_html, run_info, write_index

log = logging.getLogger(__name__)

KERNEL_NAME = "fincommerce"
# papermill waits 60 s for a kernel by default: a kernel importing torch on a busy 2-core machine can take longer.
KERNEL_START_SECONDS = 300
NOTEBOOKS = ("01-simulate-interactions", "02-tune-weights", "03-popularity-trends", "04-browse-products",
             "05-trending-backtest", "06-rising-backtest")
REES46_SAMPLE = PROJECT_ROOT / "data" / "external" / "rees46" / "2019-Oct_head_sample.csv.gz"
# Reports on the shipped real log, beside the simulated ones: report name → (notebook, its parameters).
# The sample spans 2 h 50 min, so its backtest predicts the next 15 minutes.
LOG_REPORTS: dict[str, tuple[str, dict[str, Any]]] = {
    "02-tune-weights-rees46": ("02-tune-weights", {}),
    "03-popularity-trends-rees46": ("03-popularity-trends", {"half_lives": [0.25, 0.5, 1, 3, 6]}),
    "05-trending-backtest-rees46": (
        "05-trending-backtest",
        {
            "horizon_hours": 0.25,
            "cut_every_minutes": 2.0,
            "half_lives": [0.1, 0.25, 0.5, 1, 6],
            "window_hours": [0.5, 1, 3, 24],
            "type_half_lives": [{"view": 0.25, "click": 0.25, "add_to_cart": 1, "purchase": 6}],
        },
    ),
}
REPORTS = (*NOTEBOOKS, *LOG_REPORTS)
# Simulated notebooks that read only the first notebook's tables, never the store: they can run beside those that do.
TABLES_ONLY = ("05-trending-backtest", "06-rising-backtest")
# A log report writes its own files beside the store; it never inherits the simulated report's output paths.
OWN_OUTPUTS = ("events_path", "weights_path", "ranker_path", "settings_out")
# Parameters that name files or folders (events_path, sim_dir, rees46_csv, settings_out, ...) and the variables that
# do: a kernel runs in the output folder, so each relative one is made absolute against the caller's folder first.
PATH_SUFFIXES = ("_path", "_dir", "_csv", "_out")
PATH_VARIABLES = ("FINCOMMERCE_STORE_PATH", "FINCOMMERCE_SETTINGS")


def notebook_of(report: str) -> str:
    return LOG_REPORTS[report][0] if report in LOG_REPORTS else report


def ensure_kernel() -> str:
    """Register this venv's Python as the `fincommerce` kernel (once), so papermill runs our packages."""
    specs = KernelSpecManager().find_kernel_specs()
    spec_dir = Path(specs.get(KERNEL_NAME, "")) / "kernel.json"
    if KERNEL_NAME in specs and _same_interpreter(json.loads(spec_dir.read_text())["argv"][0], sys.executable):
        return KERNEL_NAME
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", sys.prefix, "--name", KERNEL_NAME,
                    "--display-name", "Python (FinCommerce)"], check=True, capture_output=True)
    return KERNEL_NAME


def _same_interpreter(a: str, b: str) -> bool:
    """`.venv/bin/python` and `.venv/bin/python3` are one interpreter; the base Python they link to is not."""
    pa, pb = Path(a), Path(b)
    return pa.exists() and pb.exists() and pa.parent.resolve() == pb.parent.resolve() and pa.resolve() == pb.resolve()


def declared_parameters(notebook: Path) -> dict[str, Any]:
    return papermill.inspect_notebook(str(notebook))


def absolute_paths(parameters: Mapping[str, Any], cwd: Path | None = None) -> dict[str, Any]:
    """The parameters with each non-empty relative path made absolute against `cwd` (default: the current folder)."""
    cwd = cwd or Path.cwd()
    return {k: str(cwd / Path(v).expanduser()) if k.endswith(PATH_SUFFIXES) and isinstance(v, str) and v else v
            for k, v in parameters.items()}


def absolute_path_variables() -> None:
    """Relative path variables in this process's environment made absolute, so kernels (started elsewhere)
    mean the same folders as this process does."""
    for var in PATH_VARIABLES:
        if os.environ.get(var):
            os.environ[var] = str(Path.cwd() / Path(os.environ[var]).expanduser())


def run_notebook(name: str, parameters: Mapping[str, Any], out_dir: Path, *,
                 notebooks_dir: Path = NOTEBOOKS_DIR, report: str = "", background: bool = False) -> Path:
    """Execute one notebook with papermill into out_dir (as `report`.ipynb when given); unknown parameters
    are an error, not a warning. A `background` notebook's kernel runs on idle CPU time only. The kernel runs in
    out_dir; relative paths (parameters and variables) mean what they mean to the caller."""
    source = notebooks_dir / f"{name}.ipynb"
    declared = declared_parameters(source)
    unknown = set(parameters) - set(declared)
    if unknown:
        raise ConfigError(f"parameters for {name}", f"declared ones ({', '.join(sorted(declared))})", sorted(unknown))
    parameters = absolute_paths(parameters)
    absolute_path_variables()
    out_dir = out_dir.absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{report or name}.ipynb"
    started = time.perf_counter()
    manager = BackgroundKernelManager if background else PipelineKernelManager
    try:
        papermill.execute_notebook(str(source), str(target), parameters=dict(parameters),
                                   kernel_name=ensure_kernel(), progress_bar=False, cwd=str(out_dir), log_output=False,
                                   kernel_manager_class=manager, start_timeout=KERNEL_START_SECONDS)
    except papermill.PapermillExecutionError as exc:
        raise NotebookError(
            f"notebook {report or name} failed: {exc.ename}: {exc.evalue} (executed copy: {target})"
        ) from None
    log.info("Executed %s in %.1f s", report or name, time.perf_counter() - started)
    return target


def _split_parameters(params: Mapping[str, Any], report: str, declared: Mapping[str, Any]) -> dict[str, Any]:
    """Shared keys go to every notebook that declares them; a report's own section wins. A log report also
    takes its notebook's section, except output paths, then its log and defaults."""
    shared = {k: v for k, v in params.items() if k not in REPORTS and k in declared}
    if report not in LOG_REPORTS:
        return {**shared, **dict(params.get(report, {}))}
    notebook, defaults = LOG_REPORTS[report]
    inherited = {k: v for k, v in {**shared, **dict(params.get(notebook, {}))}.items() if k not in OWN_OUTPUTS}
    return {**inherited, "events_path": str(REES46_SAMPLE), **defaults, **dict(params.get(report, {}))}


def _lanes(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """The notebooks that open the store run in order in the foreground. The real-log reports and the
    notebooks that read only the first one's tables run beside them in a background kernel, from the end of
    01 on: 01 keeps both cores busy embedding (an embedding beside it slows it by a fifth even on idle CPU
    only), while 02 has long single-threaded stretches (replays, simulations) that leave a core idle."""
    background = [n for n in names if n in LOG_REPORTS] + [n for n in names if n in TABLES_ONLY]
    return [n for n in names if n not in background], background


def run_pipeline(params: Mapping[str, Any] | None = None, *, only: Sequence[str] | None = None,
                 out_dir: Path = REPORTS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, dict[str, Any]]:
    """Execute the notebooks (in order within each lane), render HTML for each, and write reports/index.html."""
    params = dict(params or {})
    declared = {n: declared_parameters(notebooks_dir / f"{notebook_of(n)}.ipynb") for n in REPORTS}
    unknown = {k for k in params if k not in REPORTS} - {k for d in declared.values() for k in d}
    if unknown:
        raise ConfigError("--params", "parameters of the notebooks", sorted(unknown))
    for name in REPORTS:  # a typo in any section stops the run before the first notebook starts
        section = params.get(name, {})
        if not isinstance(section, Mapping):
            raise ConfigError(f"--params section {name}", "a mapping of parameter names to values", section)
        if set(section) - set(declared[name]):
            raise ConfigError(f"--params section {name}", f"its parameters ({', '.join(sorted(declared[name]))})",
                              sorted(set(section) - set(declared[name])))
    names = list(only) if only else list(REPORTS)
    for n in names:
        if n not in REPORTS:
            raise ConfigError("--only", f"one of {', '.join(REPORTS)}", n)
    results: dict[str, dict[str, Any]] = {}
    info = run_info(PROJECT_ROOT)
    ensure_kernel()  # once, before two lanes could both register it

    first_done, failed = threading.Event(), threading.Event()
    if NOTEBOOKS[0] not in names:  # its tables are there from an earlier run
        first_done.set()

    def run_lane(lane: list[str], background: bool) -> None:
        if background:
            first_done.wait()
        try:
            for name in lane:
                if failed.is_set():  # the other lane failed: report that, start nothing new
                    return
                executed = run_notebook(notebook_of(name), _split_parameters(params, name, declared[name]), out_dir,
                                        notebooks_dir=notebooks_dir, report=name, background=background)
                render_html(executed, declared[name], info)
                results[name] = read_records(executed)
                if name == NOTEBOOKS[0]:
                    first_done.set()
        except BaseException:
            failed.set()
            raise
        finally:
            if not background:
                first_done.set()  # a waiting lane then sees `failed`, or runs

    foreground, background = _lanes(names)
    pool = ThreadPoolExecutor(2)
    futures = [pool.submit(run_lane, foreground, False), pool.submit(run_lane, background, True)]
    try:
        wait(futures)
    except KeyboardInterrupt:  # Ctrl-C: start nothing new, stop the running kernels, let the lanes end, re-raise
        failed.set()
        first_done.set()
        stop_running_kernels()
        pool.shutdown(wait=True)
        raise
    pool.shutdown()
    for future in futures:
        future.result()  # the foreground lane's failure first
    results = {n: results[n] for n in names}
    done = {n: results.get(n) or read_records(out_dir / f"{n}.ipynb") for n in REPORTS
            if n in results or (out_dir / f"{n}.ipynb").exists()}
    write_index(out_dir, done)  # notebooks from earlier runs (e.g. with --only) keep their entry
    return results
