"""The one workbench every tab of `fincommerce browse` shares: the server process owns the store.

Voila started a kernel process per page load, and each tried to lock the embedded store; one process
serving every tab (Solara) holds the store once, so reloads and second tabs just work.
"""
from __future__ import annotations

import threading

from fincommerce.workbench import Workbench, open_workbench

NOW_VARIABLE = "FINCOMMERCE_BROWSE_NOW"  # the clock a new tab starts at: latest, ISO 8601 or empty (live)
_lock = threading.Lock()
_workbench: Workbench | None = None


def shared_workbench() -> Workbench:
    """Open on first use; a failure (a store held by JupyterLab, say) is retried by the next page load."""
    global _workbench
    with _lock:
        if _workbench is None:
            _workbench = open_workbench()
        return _workbench
