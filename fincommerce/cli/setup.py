"""`fincommerce setup` (run by the Makefile's set-up): one Jupyter kernel, and notebooks that keep git clean."""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from fincommerce.config import PROJECT_ROOT

# JupyterLab would otherwise list ipykernel's built-in "Python 3 (ipykernel)" beside ours: same interpreter, two names.
NATIVE_KERNEL_OFF = {"KernelSpecManager": {"ensure_native_kernel": False}}
# The Jupyter server's defaults, for this venv only: no news or update check calls out to the internet.
SERVER_CONFIG = {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}
# JupyterLab's own setting: without it Lab asks every newcomer "Would you like to get notified about official
# Jupyter news?" (fetchNews "none" asks; "false" neither asks nor fetches).
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def hide_native_kernel(prefix: Path = Path(sys.prefix)) -> None:
    _merge_json(prefix / "etc" / "jupyter" / "jupyter_config.json", NATIVE_KERNEL_OFF)
    shutil.rmtree(prefix / "share" / "jupyter" / "kernels" / "python3", ignore_errors=True)


def _merge_json(path: Path, values: dict) -> None:
    """Set `values` (section by section) in a JSON config file, keeping whatever else it holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    for section, settings in values.items():
        data[section] = {**data.get(section, {}), **settings}
    path.write_text(json.dumps(data, indent=2) + "\n")


def configure_lab(kernel: str, prefix: Path = Path(sys.prefix)) -> None:
    """The venv's Jupyter server and JupyterLab settings (never the user's home nor their own overrides.json):
    `kernel` is the default for new notebooks (the server's own default, python3, is removed), and no news."""
    _merge_json(prefix / "etc" / "jupyter" / "jupyter_server_config.json",
                {**SERVER_CONFIG, "MultiKernelManager": {"default_kernel_name": kernel}})
    _merge_json(prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "fincommerce.json", LAB_OVERRIDES)


def clean_filter(python: str = sys.executable) -> str:
    """The git clean filter: nbstripout drops outputs, execution counts and run-time metadata, keeping cell ids
    and the metadata a kernel writes on every run alike (kernelspec, language_info), as committed."""
    return f"'{python}' -m nbstripout --keep-id"


def install_git_filter(root: Path = PROJECT_ROOT) -> bool:
    """Outputs JupyterLab autosaves into notebooks/ never reach git: nbstripout cleans them on the way in."""
    if not (root / ".git").exists():
        return False
    strip = clean_filter()
    for key, value in (("filter.nbstripout.clean", strip), ("filter.nbstripout.smudge", "cat"),
                       ("filter.nbstripout.required", "true"), ("diff.ipynb.textconv", f"{strip} -t")):
        subprocess.run(["git", "-C", str(root), "config", key, value], check=True)
    return True


def cmd_setup(args: argparse.Namespace) -> int:
    from fincommerce.ui.pipeline import ensure_kernel  # Jupyter and papermill load only for this command

    kernel = ensure_kernel()
    hide_native_kernel()
    configure_lab(kernel)
    filtered = install_git_filter()
    print(f"Jupyter kernel {kernel!r} registered (the only one, JupyterLab's default; no news check); "
          f"{'git strips notebook outputs' if filtered else 'no git checkout: notebook filter not installed'}")
    return 0
