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


def hide_native_kernel(prefix: Path = Path(sys.prefix)) -> None:
    config = prefix / "etc" / "jupyter" / "jupyter_config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(config.read_text()) if config.exists() else {}
    data.update(NATIVE_KERNEL_OFF)
    config.write_text(json.dumps(data, indent=2))
    shutil.rmtree(prefix / "share" / "jupyter" / "kernels" / "python3", ignore_errors=True)


def install_git_filter(root: Path = PROJECT_ROOT) -> bool:
    """Outputs JupyterLab autosaves into notebooks/ never reach git: nbstripout cleans them on the way in."""
    if not (root / ".git").exists():
        return False
    strip = f"'{sys.executable}' -m nbstripout --keep-id"
    for key, value in (("filter.nbstripout.clean", strip), ("filter.nbstripout.smudge", "cat"),
                       ("filter.nbstripout.required", "true"), ("diff.ipynb.textconv", f"{strip} -t")):
        subprocess.run(["git", "-C", str(root), "config", key, value], check=True)
    return True


def cmd_setup(args: argparse.Namespace) -> int:
    from fincommerce.ui.pipeline import ensure_kernel  # Jupyter and papermill load only for this command

    kernel = ensure_kernel()
    hide_native_kernel()
    filtered = install_git_filter()
    print(f"Jupyter kernel {kernel!r} registered (the only one); "
          f"{'git strips notebook outputs' if filtered else 'no git checkout: notebook filter not installed'}")
    return 0
