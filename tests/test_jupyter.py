"""JupyterLab habits: Run All twice in one kernel, a second notebook told who holds the store, one kernel,
and notebooks that stay clean for git however they are run (nbclient: a browser adds nothing here)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from fincommerce.config import NOTEBOOKS_DIR, PROJECT_ROOT
from fincommerce.ui.pipeline import KERNEL_NAME, NOTEBOOKS, declared_parameters, ensure_kernel

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _notebook(name: str, params: dict) -> nbformat.NotebookNode:
    nb = nbformat.read(str(NOTEBOOKS_DIR / f"{name}.ipynb"), as_version=4)
    declared = declared_parameters(NOTEBOOKS_DIR / f"{name}.ipynb")
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(
        at + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items() if k in declared))
    )
    return nb


def _run_all(client: NotebookClient, nb: nbformat.NotebookNode) -> None:
    for i, cell in enumerate(nb.cells):
        client.execute_cell(cell, i)


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("lab")
    return {"n_users": 30, "n_days": 3, "n_products": 200, "seed": 5, "store_path": str(root / "store"),
            "grid_step": 0.25, "n_boot": 50, "n_searches": 3, "recovery_users": 0, "n_counterfactual": 100,
            "half_lives": [6, 24], "november_path": "", "n_bursts": 10, "multipliers": [3], "step_minutes": 30.0}


@pytest.mark.slow
def test_every_notebook_survives_run_all_twice_in_one_kernel(params: dict, tmp_path: Path) -> None:
    ensure_kernel()
    for name in NOTEBOOKS:
        nb = _notebook(name, params)
        client = NotebookClient(
            nb, kernel_name=KERNEL_NAME, timeout=600, resources={"metadata": {"path": str(tmp_path)}}
        )
        with client.setup_kernel():
            _run_all(client, nb)
            _run_all(client, nb)  # the earlier workbench in this kernel hands the store over
        if name == "04-browse-products":
            assert any(WIDGET_MIME in o.get("data", {}) for o in nb.cells[-1].outputs), "the live browser is shown"


@pytest.mark.slow
def test_a_second_notebook_is_told_which_kernel_holds_the_store(params: dict, tmp_path: Path) -> None:
    ensure_kernel()
    browse = _notebook("04-browse-products", params)
    trends = _notebook("03-popularity-trends", params)
    holder = NotebookClient(
        browse, kernel_name=KERNEL_NAME, timeout=600, resources={"metadata": {"path": str(tmp_path)}}
    )
    with holder.setup_kernel():
        _run_all(holder, browse)  # 04 keeps its workbench open for the live browser
        other = NotebookClient(trends, kernel_name=KERNEL_NAME, timeout=600,
                               resources={"metadata": {"path": str(tmp_path)}})
        with pytest.raises(CellExecutionError) as info:
            other.execute()
    message = str(info.value)
    assert "StoreLockedError" in message and "in use by another process (pid " in message and "ipykernel" in message


def test_make_setup_offers_exactly_one_kernel() -> None:
    listed = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"], capture_output=True,
                            text=True, check=True)
    assert set(json.loads(listed.stdout)["kernelspecs"]) == {KERNEL_NAME}
    for name in NOTEBOOKS:
        nb = json.loads((NOTEBOOKS_DIR / f"{name}.ipynb").read_text())
        assert nb["metadata"]["kernelspec"]["name"] == KERNEL_NAME


def _clean_filter() -> str:
    found = subprocess.run(["git", "-C", str(PROJECT_ROOT), "config", "filter.nbstripout.clean"], capture_output=True,
                           text=True)
    if found.returncode != 0:
        pytest.skip("not a git checkout set up by `make` (the filter is installed by `fincommerce setup`)")
    return found.stdout.strip()


def test_what_git_would_commit_has_no_outputs_even_after_a_lab_session() -> None:
    """JupyterLab autosaves outputs into notebooks/: the clean filter must give back the committed file."""
    clean = _clean_filter()
    attributes = subprocess.run(["git", "-C", str(PROJECT_ROOT), "check-attr", "filter", "--",
                                 "notebooks/04-browse-products.ipynb"], capture_output=True, text=True, check=True)
    assert attributes.stdout.strip().endswith("filter: nbstripout")
    for name in NOTEBOOKS:
        committed = (NOTEBOOKS_DIR / f"{name}.ipynb").read_text()
        nb = json.loads(committed)
        for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):  # as a Lab session leaves it
            cell["execution_count"] = i + 1
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]
        nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
        staged = subprocess.run(clean, shell=True, input=json.dumps(nb, indent=1), capture_output=True, text=True,
                                check=True, cwd=PROJECT_ROOT).stdout
        assert staged == committed, name
