"""The embedded store's folder: one process at a time, and clear words when the folder is unusable."""
from __future__ import annotations

import fcntl
import logging
import os
import sys
from pathlib import Path

from fincommerce.errors import StoreError, StoreLockedError

LOCK_FILE = ".fincommerce.lock"
log = logging.getLogger(__name__)


def _holder() -> str:
    """Who we are, written into the lock file so a locked-out user knows which process to stop."""
    try:
        cmdline = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmdline = " ".join(sys.argv)
    return f"pid {os.getpid()}: {cmdline[:300]}"


def unusable(folder: Path, exc: OSError) -> StoreError:
    return StoreError(f"Cannot use {folder} as the embedded store folder: {exc.strerror or exc} (it must be a "
                      "writable folder). Point FINCOMMERCE_STORE_PATH (or store_path) at a writable folder.")


def lock_folder(folder: Path) -> int:
    """An exclusive flock on the folder's lock file, recording the holder; StoreLockedError names it."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise unusable(folder, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "an unknown process"
        os.close(fd)
        raise StoreLockedError(
            f"The embedded store folder {folder} is in use by another process ({holder}). "
            "Stop that process (or shut down its notebook kernel), use another folder with FINCOMMERCE_STORE_PATH, "
            "or share one Qdrant server between processes by setting QDRANT_URL."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, _holder().encode() + b"\n", 0)
    return fd


def read_blob(folder: Path, name: str) -> bytes | None:
    """A side file of the store; None when absent or unreadable (said in the log)."""
    try:
        return (folder / name).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("Cannot read %s: %s", folder / name, exc)
        return None


def write_blob(folder: Path, name: str, data: bytes) -> None:
    """Replace a side file atomically."""
    partial = folder / f".{name}.partial"
    try:
        partial.write_bytes(data)
        os.replace(partial, folder / name)
    except OSError as exc:
        raise unusable(folder, exc) from None
