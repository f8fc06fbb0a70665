"""`fincommerce run` as a caller meets it: relative paths mean the caller's folder (a kernel runs in --out), a
missing relative path in a notebook's folder says which spelling works, and no Jupyter warnings or tracebacks."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from fincommerce.errors import relative_path_hint
from fincommerce.tracking.event_table import read_event_table
from fincommerce.ui.pipeline import run_notebook
from fincommerce.ui.reports import read_records

PROBE = """\
from pathlib import Path
from fincommerce.config import Settings
from fincommerce.ui.records import record
record("events_found", Path(events_path).is_file())
Path(settings_out).write_text("{}")
record("settings_out", settings_out)
record("store_path", str(Settings.from_env().store_path))
"""


def tiny_notebook(folder: Path, name: str, parameters: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "fincommerce", "display_name": "Python (FinCommerce)", "language": "python"}
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def test_relative_paths_mean_the_callers_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capfd: pytest.CaptureFixture) -> None:
    caller = tmp_path / "caller"
    caller.mkdir()
    (caller / "small.csv").write_text("user_id,product_id,interaction_type,timestamp\n")
    monkeypatch.chdir(caller)
    monkeypatch.setenv("FINCOMMERCE_STORE_PATH", "relstore/store")
    notebooks = tiny_notebook(tmp_path / "nb", "probe", 'events_path = ""\nsettings_out = ""', PROBE)
    executed = run_notebook("probe", {"events_path": "small.csv", "settings_out": "mine.json"}, Path("out2"),
                            notebooks_dir=notebooks)
    records = read_records(executed)
    assert records["events_found"] is True
    assert (caller / "mine.json").exists() and not (caller / "out2" / "mine.json").exists()
    assert Path(records["store_path"]) == caller / "relstore" / "store"
    assert executed.resolve() == caller / "out2" / "probe.ipynb"
    assert "without encryption" not in capfd.readouterr().err  # the kernel talks over local IPC sockets, not TCP


def test_a_missing_relative_path_in_a_notebook_folder_says_which_spelling_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data" / "external").mkdir(parents=True)
    (tmp_path / "data" / "external" / "log.csv").write_text("user_id\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # where JupyterLab runs a notebook
    with pytest.raises(FileNotFoundError) as info:
        read_event_table("data/external/log.csv")
    message = str(info.value)
    assert "data/external/log.csv" in message and str(tmp_path / "notebooks") in message
    assert f"'{os.path.join('..', 'data', 'external', 'log.csv')}'" in message
    assert relative_path_hint("nowhere.csv") == f" (looked for relative to the folder this runs in, {Path.cwd()})"
    assert relative_path_hint(tmp_path / "nowhere.csv") == ""


def _kernels(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in children if "ipykernel" in " ".join(p.cmdline())]


@pytest.mark.slow
def test_ctrl_c_stops_the_run_and_its_kernels_without_a_traceback(tmp_path: Path) -> None:
    """SIGINT to the command's process group, as a terminal sends it: one line, exit 130, no kernel left."""
    (tmp_path / "p.yaml").write_text("n_users: 20\nn_days: 2\nn_products: 100\n")
    env = {**os.environ, "FINCOMMERCE_STORE_PATH": str(tmp_path / "store")}
    proc = subprocess.Popen([sys.executable, "-m", "fincommerce.cli", "run", "--only", "01-simulate-interactions",
                             "--params", "p.yaml", "--out", "out"], cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (kernels := _kernels(proc.pid)) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert kernels, "a kernel started"
    time.sleep(2)  # the notebook is running
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted", err
    assert "without encryption" not in err
    time.sleep(1)
    assert not [k for k in kernels if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
