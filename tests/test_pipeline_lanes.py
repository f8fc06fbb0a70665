"""The pipeline's two lanes, with stand-in notebooks (real papermill kernels): the real-log reports and 05 run
beside the simulated notebooks on idle CPU time only, from the end of 01 on, and a failure stops everything
not yet started."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from fincommerce.errors import NotebookError
from fincommerce.ui.pipeline import LOG_REPORTS, NOTEBOOKS, REPORTS, TABLES_ONLY, run_pipeline

FIRST = NOTEBOOKS[0]


def _stand_ins(folder: Path, fail: str = "") -> Path:
    """One notebook per name, declaring every parameter the pipeline passes; each notes when it ran."""
    folder.mkdir()
    names = {*NOTEBOOKS, *(nb for nb, _ in LOG_REPORTS.values())}
    declared = {"events_path", *(k for _, defaults in LOG_REPORTS.values() for k in defaults)}
    for name in names:
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("\n".join(f"{k} = None" for k in sorted(declared)) + "\nlog = ''")
        params.metadata["tags"] = ["parameters"]
        body = (
            "import json, os, time\nstart = time.time()\n"
            + ("raise RuntimeError('boom')\n" if name == fail else "")
            + "time.sleep(1)\nwith open(log, 'a') as f:\n"
            f"    f.write(json.dumps([{name!r}, events_path, os.sched_getscheduler(0) == os.SCHED_IDLE, start, "
            "time.time(), os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS')])"
            " + '\\n')"
        )
        nb.cells = [params, nbformat.v4.new_code_cell(body)]
        nb.metadata["kernelspec"] = {
            "name": "fincommerce",
            "display_name": "Python (FinCommerce)",
            "language": "python",
        }
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def _runs(log: Path) -> list[list]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.slow
def test_background_reports_run_beside_02_on_idle_cpu(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    results = run_pipeline({"log": str(log)}, out_dir=tmp_path / "reports",
                           notebooks_dir=_stand_ins(tmp_path / "nb"))
    assert list(results) == list(REPORTS)
    runs = {(name, bool(path)): (idle, start, end) for name, path, idle, start, end, *_ in _runs(log)}
    assert len(runs) == len(REPORTS)
    first_end = runs[FIRST, False][2]
    log_runs = [v for (_, is_log), v in runs.items() if is_log]
    assert min(start for _, start, _ in log_runs) >= first_end  # after 01's embedding, beside 02
    assert all(runs[name, False][1] >= first_end for name in TABLES_ONLY)
    background = {*((name, True) for name, _ in LOG_REPORTS.values()), *((name, False) for name in TABLES_ONLY)}
    assert {key: idle for key, (idle, _, _) in runs.items()} == {key: key in background for key in runs}
    assert all((tmp_path / "reports" / f"{n}.html").exists() for n in REPORTS)
    threads = {(name, bool(path)): (blas, omp) for name, path, *_, blas, omp in _runs(log)}
    torch_default = os.environ.get("OMP_NUM_THREADS")  # the foreground's torch keeps both cores for 01's embedding
    assert threads == {key: ("1", "1" if key in background else torch_default) for key in runs}


@pytest.mark.slow
def test_a_failing_first_notebook_stops_the_run_before_the_background_reports(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    started = time.time()
    with pytest.raises(NotebookError, match=f"notebook {FIRST} failed: RuntimeError: boom"):
        run_pipeline({"log": str(log)}, out_dir=tmp_path / "reports", notebooks_dir=_stand_ins(tmp_path / "nb", FIRST))
    assert _runs(log) == []  # nothing else ran, the real-log reports and 05 (reading 01's tables) included
    assert time.time() - started < 60
