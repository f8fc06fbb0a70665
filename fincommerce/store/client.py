"""Remote backend: qdrant-client for a Qdrant server, cluster or Cloud (":memory:" in tests)."""
from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx
import numpy as np
from qdrant_client import QdrantClient, models

from fincommerce.config import check_qdrant_url, redact_url
from fincommerce.errors import StoreError, StoreUnavailableError
from fincommerce.store.base import IndexKind, Match, MatchAny, PointIn, Range, Record, Store, Where, record_from

log = logging.getLogger(__name__)
T = TypeVar("T")

_SCHEMA = {"keyword": models.PayloadSchemaType.KEYWORD, "float": models.PayloadSchemaType.FLOAT}


def _condition(c: Match | MatchAny | Range) -> models.FieldCondition:
    if isinstance(c, Match):
        return models.FieldCondition(key=c.key, match=models.MatchValue(value=c.value))
    if isinstance(c, MatchAny):
        return models.FieldCondition(key=c.key, match=models.MatchAny(any=list(c.values)))
    return models.FieldCondition(key=c.key, range=models.Range(gte=c.gte, lte=c.lte, gt=c.gt, lt=c.lt))


def _filter(where: Where) -> models.Filter | None:
    return models.Filter(must=[_condition(c) for c in where]) if where else None


def unavailable(url: str, timeout: float, exc: BaseException) -> StoreUnavailableError:
    """One message per way a server can fail us (never echoing the URL's secrets or the API key)."""
    where = f"Qdrant server at {redact_url(url)}"
    status = getattr(exc, "status_code", None)
    source = getattr(exc, "source", exc)
    if status in (401, 403):
        what = f"refused the API key (HTTP {status}): check QDRANT_API_KEY"
    elif status is not None:
        what = f"answered HTTP {status}: check that QDRANT_URL points at a Qdrant server"
    elif isinstance(source, httpx.ConnectError):
        what = "refused the connection: check QDRANT_URL and that the server is running"
    elif isinstance(source, httpx.TimeoutException):
        what = f"did not answer within {timeout:g} s: check QDRANT_URL and the network"
    else:
        what = f"could not be used ({type(source).__name__}): check QDRANT_URL / QDRANT_API_KEY"
    return StoreUnavailableError(f"{where} {what}, or unset QDRANT_URL to use the embedded store.")


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Turn transport failures into one clear StoreUnavailableError."""

    @functools.wraps(method)
    def wrapper(self: ClientStore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            if self.url == ":memory:":
                raise
            raise unavailable(self.url, self.timeout, exc) from None

    return wrapper


class ClientStore(Store):
    """Same contract as the embedded store, over qdrant-client."""

    def __init__(self, url: str = ":memory:", api_key: str | None = None, timeout: float = 5.0) -> None:
        check_qdrant_url(url)
        self.url = url
        self.timeout = timeout
        if url == ":memory:":
            self.client = QdrantClient(location=":memory:")
            return
        try:
            self.client = QdrantClient(url=url, api_key=api_key, timeout=max(1, round(timeout)),
                                       check_compatibility=False)
        except Exception as exc:
            raise unavailable(url, timeout, exc) from None

    @_guarded
    def collections(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    @_guarded
    def ensure_collection(self, collection: str, dimension: int, indexes: dict[str, IndexKind]) -> None:
        if self.client.collection_exists(collection):
            return
        vectors = models.VectorParams(size=dimension, distance=models.Distance.COSINE) if dimension else {}
        self.client.create_collection(collection, vectors_config=vectors)
        with warnings.catch_warnings():  # local mode says indexes have no effect there; servers use them
            warnings.simplefilter("ignore")
            for key, kind in indexes.items():
                self.client.create_payload_index(collection, key, field_schema=_SCHEMA[kind])

    @_guarded
    def upsert(self, collection: str, points: Sequence[PointIn]) -> None:
        if not points:
            return
        self.client.upsert(collection, points=[
            models.PointStruct(id=p.id, payload=p.payload,
                               vector={} if p.vector is None else np.asarray(p.vector, dtype=np.float32).tolist())
            for p in points], wait=True)

    @_guarded
    def query(self, collection: str, vector: np.ndarray, limit: int, where: Where = (),
              with_vectors: bool = False) -> list[Record]:
        response = self.client.query_points(
            collection, query=np.asarray(vector, dtype=np.float32).tolist(), query_filter=_filter(where),
            limit=limit, with_payload=True, with_vectors=with_vectors)
        return [record_from(p, with_vectors) for p in response.points]

    @_guarded
    def _page(self, collection: str, where: Where, offset: Any, size: int, payload: Any,
              with_vectors: bool) -> tuple[list[Record], Any]:
        records, offset = self.client.scroll(collection, scroll_filter=_filter(where), limit=size, offset=offset,
                                             with_payload=payload, with_vectors=with_vectors)
        return [record_from(r, with_vectors) for r in records], offset

    @_guarded
    def _ordered(self, collection: str, where: Where, key: str, descending: bool, n: int, payload: Any,
                 with_vectors: bool) -> list[Record]:
        records, _ = self.client.scroll(collection, scroll_filter=_filter(where), limit=n, with_payload=payload,
                                        with_vectors=with_vectors,
                                        order_by=models.OrderBy(key=key, direction="desc" if descending else "asc"))
        return [record_from(r, with_vectors) for r in records]

    @_guarded
    def count(self, collection: str, where: Where = ()) -> int:
        return self.client.count(collection, count_filter=_filter(where), exact=True).count

    @_guarded
    def delete(self, collection: str, where: Where) -> None:
        if not where:
            raise StoreError(f"Refusing to delete every point of {collection!r}: give a filter")
        self.client.delete(collection, points_selector=models.FilterSelector(filter=_filter(where)), wait=True)

    @_guarded
    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Record]:
        if not ids:
            return []
        found = self.client.retrieve(collection, ids=list(ids), with_payload=True, with_vectors=with_vectors)
        return [record_from(r, with_vectors) for r in found]

    @_guarded
    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return {str(r.id) for r in self.client.retrieve(collection, ids=list(ids), with_payload=False,
                                                         with_vectors=False)}

    def close(self) -> None:
        try:
            self.client.close()
        except Exception as exc:
            log.debug("closing qdrant client: %s", exc)
