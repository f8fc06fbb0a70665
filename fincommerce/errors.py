"""Every error the workbench raises on purpose: one hierarchy, caught by class, never by name."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class FincommerceError(Exception):
    """Base of every error the workbench raises on purpose."""


class ValidationError(FincommerceError, ValueError):
    """Bad input: names the field and what was expected, so callers can fix it."""

    def __init__(self, field: str, expected: str, got: Any = None) -> None:
        self.field = field
        self.expected = expected
        shown = repr(got)
        if len(shown) > 80:  # both ends: a long path's file name is what the reader needs
            shown = shown[:38] + "..." + shown[-39:]
        super().__init__(f"{field}: expected {expected}, got {shown}")


class ConfigError(ValidationError):
    """A setting (environment variable, argument or parameter file) is invalid."""


class StoreError(FincommerceError, RuntimeError):
    """The vector store failed; the message says what to do about it."""


class StoreLockedError(StoreError):
    """Another process holds the embedded store folder."""


class StoreUnavailableError(StoreError):
    """A remote Qdrant server could not be reached in time."""


class EngineError(FincommerceError, RuntimeError):
    """A log engine (DuckDB, a Spark master) could not run the query; the message names the URL or file."""


class NotebookError(FincommerceError, RuntimeError):
    """A notebook of the pipeline failed; the executed copy shows where."""


def relative_path_hint(path: str | os.PathLike) -> str:
    """Where a missing relative path was looked for, and the spelling that works from there if one does:
    JupyterLab runs a notebook in its own folder (notebooks/), where the README's data/... is ../data/...."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return ""
    cwd = Path.cwd()
    for up, base in enumerate(list(cwd.parents)[:2], start=1):
        if (base / path).exists():
            fixed = os.path.join(*[".."] * up, path)
            return (f" (relative paths start from the folder this runs in, {cwd}; JupyterLab runs a notebook in its "
                    f"own folder, and from there it is {fixed!r})")
    return f" (looked for relative to the folder this runs in, {cwd})"
