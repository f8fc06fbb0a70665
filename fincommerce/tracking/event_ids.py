"""Ids of imported events: from what an event *is*, so re-imports and respellings are recognised."""
from __future__ import annotations

import hashlib
import uuid

import numpy as np

from fincommerce.store.ids import uuid5_from_digests

# Fixed forever: event ids must stay identical across imports and releases.
EVENT_ID_NAMESPACE: uuid.UUID = uuid.UUID("6f1d3c5e-2b7a-5c4e-9a51-4e2a1f0b7d93")


def price_key(price: float) -> str:
    """A price as REES46 writes it ("35.80", "1.00"; more decimals only when there are more): the raw REES46
    text is its own key, so ids of logs imported before keys were normalised stay the same, while a pandas
    round trip ("35.8") or a respelling ("3.58e1", " 35.800") gives the same key."""
    text = repr(float(price))
    if "e" in text or "n" in text:  # 1e+16, inf, nan: no decimal places to pad
        return text
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(2, '0')}"


def event_ids(seconds: np.ndarray, columns: list[np.ndarray]) -> list[str]:
    """Ids from what an event *is* (time normalised to UTC milliseconds, then type, product, user, session,
    price, ... as normalised text), so the same event spelt `UTC`, `Z` or `+02:00`, or re-saved by pandas,
    is recognised as already present. Text is stripped; prices are given as `price_key` text."""
    nsb, sha1 = EVENT_ID_NAMESPACE.bytes, hashlib.sha1
    stripped = [list(map(str.strip, map(str, c.tolist()))) for c in columns]
    keys = zip(np.round(seconds * 1000).astype(np.int64).tolist(), *stripped, strict=True)
    return uuid5_from_digests([sha1(nsb + "\x1f".join(map(str, key)).encode("utf-8", "replace")).digest()
                               for key in keys])
