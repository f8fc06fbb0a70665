"""`fincommerce run` as a caller meets it: relative paths mean the caller's folder (a kernel runs in --out), a
missing relative path in a notebook's folder says which spelling works, and no Jupyter warnings or tracebacks."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
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


def test_relative_paths_mean_the_callers_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
