"""The pipeline's two lanes, with stand-in notebooks (real papermill kernels): the real-log reports start once
the first simulated notebook is done, and a failure there stops everything not yet started."""
from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from fincommerce.errors import NotebookError
from fincommerce.ui.pipeline import LOG_REPORTS, NOTEBOOKS, REPORTS, run_pipeline

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
        body = ("import json, time\nstart = time.time()\n" + ("raise RuntimeError('boom')\n" if name == fail else "")
                + "time.sleep(1)\nwith open(log, 'a') as f:\n"
                  "    f.write(json.dumps([events_path, start, time.time()]) + '\\n')")
        nb.cells = [params, nbformat.v4.new_code_cell(body)]
        nb.metadata["kernelspec"] = {"name": "fincommerce", "display_name": "Python (FinCommerce)", "language": "python"}
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def _runs(log: Path) -> list[list]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.slow
def test_log_reports_start_after_the_first_notebook_and_every_report_is_written(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    results = run_pipeline({"log": str(log)}, out_dir=tmp_path / "reports",
                           notebooks_dir=_stand_ins(tmp_path / "nb"))
    assert list(results) == list(REPORTS)
    runs = _runs(log)
    first_end = min(end for path, _, end in runs if path is None)  # the simulated notebooks get no events_path
    log_starts = [start for path, start, _ in runs if path]
    assert len(log_starts) == len(LOG_REPORTS) and min(log_starts) >= first_end
    assert all((tmp_path / "reports" / f"{n}.html").exists() for n in REPORTS)


@pytest.mark.slow
def test_a_failing_first_notebook_stops_the_run_before_the_log_reports(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    started = time.time()
    with pytest.raises(NotebookError, match=f"notebook {FIRST} failed: RuntimeError: boom"):
        run_pipeline({"log": str(log)}, out_dir=tmp_path / "reports", notebooks_dir=_stand_ins(tmp_path / "nb", FIRST))
    assert _runs(log) == []  # nothing else ran, the real-log reports included
    assert time.time() - started < 60
