"""Point ids and payload index schemas: how products and events are addressed in any backend."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import numpy as np

from fincommerce.schema import BRAND, CATEGORIES, CATEGORY, PRICE, PRODUCT_ID, TIMESTAMP
from fincommerce.store.base import IndexKind

_NAMESPACE = uuid.UUID("5b1a6c1e-3f2d-4c59-9a57-2d0f6c3e8a11")

PRODUCT_INDEXES: dict[str, IndexKind] = {PRODUCT_ID: "keyword", BRAND: "keyword", CATEGORY: "keyword",
                                         CATEGORIES: "keyword", PRICE: "float"}
# Only the time is filtered and ordered on; every further index costs ~4 µs per logged event in the engine.
INTERACTION_INDEXES: dict[str, IndexKind] = {TIMESTAMP: "float"}


def point_id(key: str) -> str:
    """Deterministic UUID for a string id: Qdrant only takes unsigned ints or UUIDs."""
    return str(uuid.uuid5(_NAMESPACE, key))


def product_point_id(product_id: str) -> str:
    return point_id(f"product:{product_id}")


def event_point_id(event_id: str) -> str:
    return point_id(f"event:{event_id}")


def uuid5_from_digests(digests: Sequence[bytes]) -> list[str]:
    """uuid5 strings from precomputed SHA-1 digests, vectorised (uuid.uuid5 costs ~8 µs a call)."""
    n = len(digests)
    if not n:
        return []
    raw = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(n, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexc = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype="S1").reshape(n, 32)
    out = np.full((n, 36), b"-", dtype="S1")
    for dst, src, width in ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12)):
        out[:, dst:dst + width] = hexc[:, src:src + width]
    return out.view("S36").ravel().astype("U36").tolist()


def point_ids(keys: Sequence[str], prefix: str = "") -> list[str]:
    """`point_id(prefix + key)` of many keys at once (identical results, ~5x faster)."""
    head, sha1 = _NAMESPACE.bytes + prefix.encode("utf-8"), hashlib.sha1
    return uuid5_from_digests([sha1(head + k.encode("utf-8")).digest() for k in keys])


def event_point_ids(event_ids: Sequence[str]) -> list[str]:
    """`event_point_id` of many ids at once (identical results)."""
    return point_ids(event_ids, "event:")


def product_point_ids(product_ids: Sequence[str]) -> list[str]:
    return point_ids(product_ids, "product:")
