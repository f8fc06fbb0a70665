"""`fincommerce browse`: the widget browser as a web page, served by Solara on 127.0.0.1, fully offline.

One process serves every tab and owns the store (see `fincommerce.ui.shared`); the command execs into
the server, so Ctrl-C or SIGTERM stops everything it started. What would stop the server (a bad or busy
port, a store another process holds) is checked before it announces itself.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from fincommerce.config import Settings
from fincommerce.errors import FincommerceError, ValidationError
from fincommerce.store.folder import lock_folder
from fincommerce.ui.shared import NOW_VARIABLE

HOST = "127.0.0.1"

APP = Path(__file__).resolve().parents[1] / "ui" / "browse_app.py"  # run by Solara as a script
OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no usage telemetry
    "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/npm/",  # assets come from solara-assets; a miss fails locally
}


def solara_command(port: int) -> list[str]:
    return [sys.executable, "-m", "solara", "run", str(APP), "--host", HOST, "--port", str(port),
            "--production", "--no-open", "--no-check-version", "--workers", "1", "--theme-loader", "plain"]


def solara_env(now: str | None = None, env: dict[str, str] | None = None) -> dict[str, str]:
    env = {**(os.environ if env is None else env), **OFFLINE_ENV}
    env.pop("WEB_CONCURRENCY", None)  # several workers would be several processes fighting over the store
    if now:
        env[NOW_VARIABLE] = now
    return env


def check_port(port: int) -> None:
    """The port is a TCP port nobody listens on: binding it as the server will (SO_REUSEADDR) tells."""
    if not 1 <= port <= 65535:
        raise ValidationError("--port", "a TCP port from 1 to 65535", port)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise FincommerceError(f"--port {port}: cannot serve on {HOST}:{port} ({exc.strerror}); stop the "
                                   "program using that port or choose another with --port") from None


def check_store(settings: Settings) -> None:
    """The embedded store folder is not held by another process (a second `browse`, a notebook kernel): the
    lock is taken and released here, so the error comes before the announcement instead of in the page."""
    if settings.qdrant_url or not settings.store_path.is_dir():
        return
    os.close(lock_folder(settings.store_path.resolve()))


def cmd_browse(args: argparse.Namespace) -> int:
    """Serve the browser on 127.0.0.1 only; replaces this process with the server."""
    check_port(args.port)
    check_store(Settings.from_env())
    print(f"Serving the product browser on http://{HOST}:{args.port}/ (Ctrl-C stops it)", flush=True)
    command = solara_command(args.port)
    os.execve(command[0], command, solara_env(args.now))
