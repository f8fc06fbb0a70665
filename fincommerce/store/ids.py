"""Point ids and payload index schemas: how products and events are addressed in any backend."""
from __future__ import annotations

import uuid

from fincommerce.schema import (
    BRAND,
    CATEGORIES,
    CATEGORY,
    EVENT_ID,
    INTERACTION_TYPE,
    PRICE,
    PRODUCT_ID,
    TIMESTAMP,
    USER_ID,
)
from fincommerce.store.base import IndexKind

_NAMESPACE = uuid.UUID("5b1a6c1e-3f2d-4c59-9a57-2d0f6c3e8a11")

PRODUCT_INDEXES: dict[str, IndexKind] = {PRODUCT_ID: "keyword", BRAND: "keyword", CATEGORY: "keyword",
                                         CATEGORIES: "keyword", PRICE: "float"}
INTERACTION_INDEXES: dict[str, IndexKind] = {TIMESTAMP: "float", USER_ID: "keyword", PRODUCT_ID: "keyword",
                                             INTERACTION_TYPE: "keyword", CATEGORIES: "keyword",
                                             EVENT_ID: "keyword"}


def point_id(key: str) -> str:
    """Deterministic UUID for a string id: Qdrant only takes unsigned ints or UUIDs."""
    return str(uuid.uuid5(_NAMESPACE, key))


def product_point_id(product_id: str) -> str:
    return point_id(f"product:{product_id}")


def event_point_id(event_id: str) -> str:
    return point_id(f"event:{event_id}")
