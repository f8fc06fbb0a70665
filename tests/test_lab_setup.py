"""JupyterLab as a newcomer meets it after `fincommerce setup`: our kernel is the server's default, no news prompt
or check, and a committed notebook run and saved leaves git clean (it carries the metadata a real kernel writes)."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from fincommerce.cli.setup import clean_filter, configure_lab
from fincommerce.config import NOTEBOOKS_DIR, PROJECT_ROOT
from fincommerce.ui.pipeline import KERNEL_NAME, NOTEBOOKS, ensure_kernel

NOTIFICATION = "@jupyterlab/apputils-extension:notification"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_lab_defaults_to_our_kernel_and_never_asks_about_news(tmp_path: Path) -> None:
    prefix = tmp_path / "venv"
    configure_lab(KERNEL_NAME, prefix)
    port, token = _free_port(), "t0ken"
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(prefix / "etc" / "jupyter"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "home-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                            "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--allow-root",
                            f"--ServerApp.root_dir={tmp_path}",
                            f"--LabApp.app_settings_dir={prefix / 'share' / 'jupyter' / 'lab' / 'settings'}"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                specs = json.loads(_get(f"{base}/api/kernelspecs?token={token}"))
                break
            except OSError:
                assert time.time() < deadline and lab.poll() is None, "JupyterLab did not start"
                time.sleep(0.3)
        assert specs["default"] == KERNEL_NAME and KERNEL_NAME in specs["kernelspecs"]
        page = _get(f"{base}/lab?token={token}")
        config = json.loads(re.search(r"id=.jupyter-config-data.[^>]*>(.*?)</script>", page, re.S).group(1))
        assert config["news"] == {"disabled": True}
        setting = json.loads(_get(f"{base}/lab/api/settings/{NOTIFICATION}?token={token}"))
        defaults = {k: v["default"] for k, v in setting["schema"]["properties"].items()}
        assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False  # "none" would ask
    finally:
        lab.terminate()
        lab.wait(timeout=30)


def test_a_committed_notebook_run_and_saved_leaves_git_clean(tmp_path: Path) -> None:
    """What nbclient (a real kernel) writes into a notebook's metadata is what is committed, so JupyterLab does
    not mark it modified when its kernel starts, and after Run All + save the clean filter gives back the file."""
    ensure_kernel()
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    NotebookClient(probe, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(tmp_path)}}).execute()
    spec = json.loads(subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
                                     capture_output=True, text=True, check=True).stdout)["kernelspecs"][KERNEL_NAME]
    saved = {}
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
        assert nb.metadata.language_info == probe.metadata.language_info, name
        assert nb.metadata.kernelspec.name == KERNEL_NAME
        assert nb.metadata.kernelspec.display_name == spec["spec"]["display_name"]
        nb.metadata.language_info = probe.metadata.language_info  # Run All + save, as a kernel leaves it
        for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            cell.execution_count = i + 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
            cell.metadata["execution"] = {"iopub.status.busy": "2026-12-02T08:00:00.000000Z"}
        saved[name] = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, saved[name])
    # the clean filter's own command, on the saved files at once (one nbstripout start instead of five)
    subprocess.run(f"{clean_filter()} {' '.join(map(str, saved.values()))}", shell=True, check=True, cwd=PROJECT_ROOT)
    for name, path in saved.items():
        assert path.read_text() == (NOTEBOOKS_DIR / f"{name}.ipynb").read_text(), name


def test_setup_writes_only_into_the_venv_and_keeps_other_settings(tmp_path: Path) -> None:
    server = tmp_path / "etc" / "jupyter" / "jupyter_server_config.json"
    server.parent.mkdir(parents=True)
    server.write_text('{"ServerApp": {"port": 9999}, "LabApp": {"collaborative": true}}')
    configure_lab(KERNEL_NAME, tmp_path)
    configure_lab(KERNEL_NAME, tmp_path)  # idempotent
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.json"))
    assert written == ["etc/jupyter/jupyter_server_config.json",
                       "share/jupyter/lab/settings/overrides.d/fincommerce.json"]
    config = json.loads(server.read_text())
    assert config["ServerApp"] == {"port": 9999} and config["LabApp"]["collaborative"] is True
    assert config["LabApp"]["news_url"] is None and config["MultiKernelManager"]["default_kernel_name"] == KERNEL_NAME
