"""`fincommerce browse`: the widget browser served by Voila on 127.0.0.1 with a CDN-free template."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from fincommerce.config import NOTEBOOKS_DIR

TEMPLATES = Path(__file__).resolve().parent.parent / "jupyter_data"


def voila_command(notebook: Path, port: int) -> list[str]:
    """Voila on 127.0.0.1 with our template (Voila's lab template minus its CDN stylesheet links)."""
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
            "--ServerApp.port_retries=0", "--template=fincommerce"]


def voila_env(env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATES), env.get("JUPYTER_PATH", "")) if p)
    return env


def cmd_browse(args: argparse.Namespace) -> int:
    """Serve notebooks/04-browse-products.ipynb with Voila on 127.0.0.1 only."""
    from fincommerce.ui.pipeline import (
        ensure_kernel,  # Jupyter loads only for this command
    )

    ensure_kernel()
    print(f"Serving the product browser on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)")
    try:
        return subprocess.call(voila_command(NOTEBOOKS_DIR / "04-browse-products.ipynb", args.port), env=voila_env())
    except KeyboardInterrupt:
        return 0
