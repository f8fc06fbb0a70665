"""Embedded default: qdrant-edge, the real Qdrant engine in-process, one shard per collection."""
from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np
import qdrant_edge as qe

from fincommerce.errors import StoreError, StoreLockedError
from fincommerce.store.base import IndexKind, Match, MatchAny, PointIn, Range, Record, Store, Where, record_from

log = logging.getLogger(__name__)
T = TypeVar("T")

_SCHEMA = {"keyword": qe.PayloadSchemaType.Keyword, "float": qe.PayloadSchemaType.Float}
LOCK_FILE = ".fincommerce.lock"
_HELD: dict[Path, "EdgeStore"] = {}  # folders this process holds, so a second open hands over instead of failing
_HELD_LOCK = threading.RLock()


def _holder() -> str:
    """Who we are, written into the lock file so a locked-out user knows which process to stop."""
    try:
        cmdline = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmdline = " ".join(sys.argv)
    return f"pid {os.getpid()}: {cmdline[:300]}"


def _unusable(folder: Path, exc: OSError) -> StoreError:
    return StoreError(f"Cannot use {folder} as the embedded store folder: {exc.strerror or exc} (it must be a "
                      "writable folder). Point FINCOMMERCE_STORE_PATH (or store_path) at a writable folder.")


def _lock(folder: Path) -> int:
    """An exclusive flock on the folder's lock file, recording the holder; StoreLockedError names it."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _unusable(folder, exc) from None
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


def _condition(c: Match | MatchAny | Range) -> qe.FieldCondition:
    if isinstance(c, Match):
        return qe.FieldCondition(key=c.key, match=qe.MatchValue(c.value))
    if isinstance(c, MatchAny):
        return qe.FieldCondition(key=c.key, match=qe.MatchAny(list(c.values)))
    return qe.FieldCondition(key=c.key, range=qe.RangeFloat(gte=c.gte, lte=c.lte, gt=c.gt, lt=c.lt))


def _filter(where: Where) -> qe.Filter | None:
    return qe.Filter(must=[_condition(c) for c in where]) if where else None


class EdgeStore(Store):
    """Holds an exclusive lock on its folder: a second process gets a clear StoreLockedError."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unusable(self.path, exc) from None
        self._shards: dict[str, qe.EdgeShard] = {}
        self._mutex = threading.RLock()
        self._closed_because = ""
        self._broken: set[str] = set()  # collections whose last write failed: reloaded before the next call
        with _HELD_LOCK:
            earlier = _HELD.get(self.path)
            if earlier is not None:  # Run All again in a notebook: the new workbench takes over the folder
                log.info("Closing the earlier workbench on %s opened by this process", self.path)
                earlier.close(because="a newer workbench in this process opened the same folder; use that one")
            self._lock_fd = _lock(self.path)
            _HELD[self.path] = self
        for child in sorted(self.path.iterdir()):
            if (child / "edge_config.json").exists():
                self._shards[child.name] = self._open(child)

    def _open(self, folder: Path) -> qe.EdgeShard:
        try:
            return qe.EdgeShard.load(str(folder))
        except Exception as exc:  # the engine raises bare Exceptions with Rust messages
            raise StoreError(f"Could not open the store collection at {folder}: {exc}") from None

    def _run(self, collection: str, action: str, call: Callable[[qe.EdgeShard], T], *, write: bool = False) -> T:
        """One engine call; its failures (bare Exceptions, Rust panics that are BaseExceptions) become a
        StoreError naming the folder and the OS error. A failed write reopens the shard: the engine refuses
        every later write ("Not recovered from previous error") until it is reloaded."""
        with self._mutex:
            if collection in self._broken:
                self._reopen(collection)
            shard = self._shard(collection)
            try:
                return call(shard)
            except (KeyboardInterrupt, SystemExit, GeneratorExit):
                raise
            except BaseException as exc:
                reason = str(exc).strip() or type(exc).__name__
                if write:
                    self._broken.add(collection)
                    self._reopen(collection, quiet=True)
                raise StoreError(f"The embedded store at {self.path / collection} could not {action}: {reason}"
                                 ) from None

    def _reopen(self, collection: str, *, quiet: bool = False) -> None:
        """Reload a shard after a failed write; while that fails too (a disk still full), every call says so."""
        try:
            self._shards[collection].close()
        except BaseException as exc:
            log.debug("closing a failed shard: %s", exc)
        try:
            self._shards[collection] = qe.EdgeShard.load(str(self.path / collection))
            self._broken.discard(collection)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            if not quiet:
                raise StoreError(f"The embedded store at {self.path / collection} cannot be reopened after a failed "
                                 f"write: {exc}. Free disk space (or fix permissions), then try again.") from None

    def _shard(self, collection: str) -> qe.EdgeShard:
        if self._closed_because:
            raise StoreError(f"The store {self.path} was closed here: {self._closed_because}")
        try:
            return self._shards[collection]
        except KeyError:
            raise StoreError(f"Collection {collection!r} does not exist in {self.path}") from None

    def collections(self) -> list[str]:
        return sorted(self._shards)

    def ensure_collection(self, collection: str, dimension: int, indexes: dict[str, IndexKind]) -> None:
        with self._mutex:
            if collection in self._shards:
                return
            config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine))
            try:
                shard = qe.EdgeShard.create(str(self.path / collection), config)
                for key, kind in indexes.items():
                    shard.update(qe.UpdateOperation.create_field_index(key, _SCHEMA[kind]))
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # "Can't init WAL" on a full or read-only disk
                raise StoreError(f"Could not create the collection {self.path / collection}: {exc}. Is the disk "
                                 "full or the folder read-only?") from None
            self._shards[collection] = shard

    def upsert(self, collection: str, points: Sequence[PointIn]) -> None:
        if not points:
            return
        batch = [qe.Point(p.id, p.vector if isinstance(p.vector, list) else np.asarray(p.vector, dtype=np.float32).tolist(),
                          p.payload) for p in points]
        self._run(collection, "write", lambda shard: shard.update(qe.UpdateOperation.upsert_points(batch)), write=True)

    def query(self, collection: str, vector: np.ndarray, limit: int, where: Where = (),
              with_vectors: bool = False) -> list[Record]:
        request = qe.QueryRequest(
            limit=limit, query=qe.Query.Nearest(np.asarray(vector, dtype=np.float32).tolist()),
            filter=_filter(where), with_payload=True, with_vector=with_vectors,
        )
        hits = self._run(collection, "search", lambda shard: shard.query(request))
        return [record_from(h, with_vectors) for h in hits]

    def _page(self, collection: str, where: Where, offset: Any, size: int, payload: Any,
              with_vectors: bool) -> tuple[list[Record], Any]:
        request = qe.ScrollRequest(offset=offset, limit=size, filter=_filter(where), with_payload=payload,
                                   with_vector=with_vectors)
        records, offset = self._run(collection, "read", lambda shard: shard.scroll(request))
        return [record_from(r, with_vectors) for r in records], offset

    def payloads(self, collection: str, where: Where = (), fields: Sequence[str] | None = None,
                 batch_size: int = 20_000) -> Iterator[dict[str, Any]]:
        offset: Any = None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=batch_size, filter=_filter(where), with_vector=False,
                                       with_payload=list(fields) if fields is not None else True)
            records, offset = self._run(collection, "read", lambda shard: shard.scroll(request))
            yield from (r.payload or {} for r in records)
            if offset is None or not records:
                return

    def _ordered(self, collection: str, where: Where, key: str, descending: bool, n: int, payload: Any,
                 with_vectors: bool) -> list[Record]:
        direction = qe.Direction.Desc if descending else qe.Direction.Asc
        request = qe.ScrollRequest(limit=n, filter=_filter(where), with_payload=payload, with_vector=with_vectors,
                                   order_by=qe.OrderBy(key, direction))
        records, _ = self._run(collection, "read", lambda shard: shard.scroll(request))
        return [record_from(r, with_vectors) for r in records]

    def count(self, collection: str, where: Where = ()) -> int:
        return self._run(collection, "count", lambda shard: shard.count(qe.CountRequest(filter=_filter(where), exact=True)))

    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Record]:
        if not ids:
            return []
        found = self._run(collection, "read",
                          lambda shard: shard.retrieve(list(ids), with_payload=True, with_vector=with_vectors))
        return [record_from(r, with_vectors) for r in found]

    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        found = self._run(collection, "read",
                          lambda shard: shard.retrieve(list(ids), with_payload=False, with_vector=False))
        return {str(r.id) for r in found}

    def optimize(self) -> None:
        """Build HNSW and merge segments: worth it after a big bulk load."""
        with self._mutex:
            for shard in self._shards.values():
                shard.optimize()

    def close(self, because: str = "close() was called") -> None:
        with self._mutex:
            for shard in self._shards.values():
                try:
                    shard.close()
                except Exception as exc:  # closing twice or after a crash must not mask the caller's error
                    log.debug("closing shard: %s", exc)
            self._shards.clear()
            self._closed_because = self._closed_because or because
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1
            with _HELD_LOCK:
                if _HELD.get(self.path) is self:
                    del _HELD[self.path]
