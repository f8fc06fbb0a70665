"""`fincommerce browse`: the widget browser as a web page, served by Solara on 127.0.0.1, fully offline.

One process serves every tab and owns the store (see `fincommerce.ui.shared`); the command execs into
the server, so Ctrl-C or SIGTERM stops everything it started.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fincommerce.ui.shared import NOW_VARIABLE

APP = Path(__file__).resolve().parents[1] / "ui" / "browse_app.py"  # run by Solara as a script
OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no usage telemetry
    "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/npm/",  # assets come from solara-assets; a miss fails locally
}


def solara_command(port: int) -> list[str]:
    return [sys.executable, "-m", "solara", "run", str(APP), "--host", "127.0.0.1", "--port", str(port),
            "--production", "--no-open", "--no-check-version", "--workers", "1", "--theme-loader", "plain"]


def solara_env(now: str | None = None, env: dict[str, str] | None = None) -> dict[str, str]:
    env = {**(os.environ if env is None else env), **OFFLINE_ENV}
    env.pop("WEB_CONCURRENCY", None)  # several workers would be several processes fighting over the store
    if now:
        env[NOW_VARIABLE] = now
    return env


def cmd_browse(args: argparse.Namespace) -> int:
    """Serve the browser on 127.0.0.1 only; replaces this process with the server."""
    print(f"Serving the product browser on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", flush=True)
    command = solara_command(args.port)
    os.execve(command[0], command, solara_env(args.now))
