"""Ids of imported events: from what an event *is*, so re-imports and respellings are recognised."""
from __future__ import annotations

import hashlib
import uuid

import numpy as np

from fincommerce.store.ids import uuid5_from_digests

# Fixed forever: event ids must stay identical across imports and releases.
EVENT_ID_NAMESPACE: uuid.UUID = uuid.UUID("6f1d3c5e-2b7a-5c4e-9a51-4e2a1f0b7d93")


def event_ids(seconds: np.ndarray, columns: list[np.ndarray]) -> list[str]:
    """Ids from what an event *is* (time normalised to UTC milliseconds, type, product, user, session,
    price), so the same event spelt `UTC`, `Z` or `+02:00` is recognised as already present."""
    nsb, sha1 = EVENT_ID_NAMESPACE.bytes, hashlib.sha1
    keys = zip(np.round(seconds * 1000).astype(np.int64).tolist(), *(c.tolist() for c in columns))
    return uuid5_from_digests([sha1(nsb + "\x1f".join(map(str, key)).encode("utf-8", "replace")).digest()
                               for key in keys])
