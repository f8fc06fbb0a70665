"""The narrow store interface: decay, ranking and tracking code only ever see these types."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

IndexKind = Literal["keyword", "float"]


@dataclass(frozen=True)
class Match:
    """Payload `key` equals `value` (for list fields: contains it)."""

    key: str
    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Range:
    key: str
    gte: float | None = None
    lte: float | None = None
    gt: float | None = None
    lt: float | None = None


Condition = Match | MatchAny | Range
Where = Sequence[Condition]


@dataclass
class Record:
    """A stored point: id is the UUID string, score is set by vector queries."""

    id: str
    payload: dict[str, Any]
    vector: np.ndarray | None = None
    score: float = 0.0


def record_from(point: Any, with_vectors: bool) -> Record:
    """A Record from either client's point type (both expose id, payload, vector and maybe score)."""
    has = with_vectors and point.vector is not None and not isinstance(point.vector, dict)  # {}: no vector
    vector = np.asarray(point.vector, dtype=np.float32) if has else None
    return Record(str(point.id), dict(point.payload or {}), vector, float(getattr(point, "score", 0.0) or 0.0))


@dataclass(frozen=True)
class PointIn:
    """vector None: a point of a payload-only collection (created with dimension 0)."""

    id: str
    vector: np.ndarray | Sequence[float] | None
    payload: dict[str, Any] = field(default_factory=dict)


class Store(ABC):
    """One Qdrant-like store holding named collections of 384-d cosine vectors."""

    @abstractmethod
    def ensure_collection(self, collection: str, dimension: int, indexes: dict[str, IndexKind]) -> None:
        """Create the collection (and payload indexes) if it does not exist yet; dimension 0 makes a
        payload-only collection, whose points carry no vector (events whose vectors are shared elsewhere)."""

    @abstractmethod
    def upsert(self, collection: str, points: Sequence[PointIn]) -> None: ...

    @abstractmethod
    def query(self, collection: str, vector: np.ndarray, limit: int, where: Where = (),
              with_vectors: bool = False) -> list[Record]:
        """Nearest points by cosine similarity, best first."""

    def scroll(self, collection: str, where: Where = (), *, order_by: str | None = None,
               descending: bool = False, limit: int | None = None, with_vectors: bool = False,
               fields: Sequence[str] | None = None, batch_size: int = 2048) -> Iterator[Record]:
        """Every matching point, optionally ordered by an indexed numeric field."""
        payload: Any = list(fields) if fields is not None else True
        if order_by is not None:
            n = limit if limit is not None else self.count(collection, where)
            if n:
                yield from self._ordered(collection, where, order_by, descending, n, payload, with_vectors)
            return
        offset: Any = None
        remaining = limit
        while remaining is None or remaining > 0:
            size = batch_size if remaining is None else min(batch_size, remaining)
            records, offset = self._page(collection, where, offset, size, payload, with_vectors)
            yield from records
            if remaining is not None:
                remaining -= len(records)
            if offset is None or not records:
                return

    def payloads(self, collection: str, where: Where = (), fields: Sequence[str] | None = None,
                 batch_size: int = 20_000) -> Iterator[dict[str, Any]]:
        """Only the payloads of matching points, unordered: the bulk read of an index rebuild, where building
        a Record and an id per point would cost more than the engine's read."""
        return (r.payload for r in self.scroll(collection, where, fields=fields, batch_size=batch_size))

    @abstractmethod
    def _page(self, collection: str, where: Where, offset: Any, size: int, payload: Any,
              with_vectors: bool) -> tuple[list[Record], Any]:
        """One page of an unordered scroll and the offset of the next (None at the end)."""

    @abstractmethod
    def _ordered(self, collection: str, where: Where, key: str, descending: bool, n: int, payload: Any,
                 with_vectors: bool) -> list[Record]:
        """The first n matching points ordered by `key`."""

    @abstractmethod
    def count(self, collection: str, where: Where = ()) -> int: ...

    @abstractmethod
    def delete(self, collection: str, where: Where) -> None:
        """Drop every matching point in ONE engine operation, so a crash leaves all of them or none."""

    @abstractmethod
    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Record]: ...

    @abstractmethod
    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        """Which of these point ids are stored (no payload read: the bulk "already there?" check)."""

    @abstractmethod
    def collections(self) -> list[str]: ...

    def read_blob(self, name: str) -> bytes | None:
        """A side file kept beside the collections; None when absent (servers keep none)."""
        return None

    def write_blob(self, name: str, data: bytes) -> None:  # noqa: B027 - a no-op unless the backend has a folder
        """Keep a side file beside the collections, replaced atomically (a no-op where there is no folder)."""

    def flush(self) -> None:  # noqa: B027 - a no-op unless the backend keeps written points in memory
        """Persist what the backend still holds in memory (a bulk import calls it, so its memory stays flat)."""

    def optimize(self, min_new: int = 0) -> None:  # noqa: B027 - a no-op unless the caller must optimize
        """Compact what writes left in memory, in collections holding at least `min_new` points not compacted
        yet (an import calls it; a server optimizes on its own)."""

    def close(self) -> None:  # noqa: B027 - nothing to release unless the backend holds something
        """Release files, locks and connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
