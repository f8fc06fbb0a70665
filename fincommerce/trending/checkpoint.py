"""The trending index saved beside the store on close, so the next open reads only what came after.

Reading a million events back through the engine takes seconds; the saved arrays load in milliseconds.
The save carries the feed's position (newest time, cut, the count below the cut, the ids after it), so
the open continues exactly like a shared-server refresh: events at or after the cut are read through the
timestamp index, and any change below the cut (history written since) falls back to a full read.
"""
from __future__ import annotations

import io
import json
import logging
import math

import numpy as np

from fincommerce.trending.sync import StoreFeed

log = logging.getLogger(__name__)

VERSION = 1


def snapshot(feed: StoreFeed) -> bytes:
    """The index's retained events and products plus the feed position, as one .npz (caller holds the lock)."""
    index = feed.index
    index._ensure_sorted()
    newest = feed.newest()
    high = -math.inf if newest is None else newest
    cut = high - feed.overlap
    recent = feed.ids_since(cut)
    meta = {"version": VERSION, "window": index.window, "retention": index.retention, "retain_from": index.retain_from,
            "acc_start": index.acc_start, "clock": index.clock, "high": high, "cut": cut,
            "below": feed.below_count(cut), "recent": recent, "product_ids": index.product_ids,
            "categories": [sorted(c) for c in index._categories]}
    out = io.BytesIO()
    np.savez(out, t=index._t.view(), p=index._p.view(), k=index._k.view(), meta=np.array(json.dumps(meta)))
    return out.getvalue()


def restore(feed: StoreFeed, data: bytes) -> bool:
    """Load a snapshot into the feed's index; False (index untouched) when it does not fit these settings."""
    index = feed.index
    try:
        with np.load(io.BytesIO(data)) as saved:
            meta = json.loads(str(saved["meta"]))
            t, p, k = saved["t"], saved["p"], saved["k"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("Ignoring an unreadable trending checkpoint: %s", exc)
        return False
    if meta.get("version") != VERSION or meta["window"] != index.window or meta["retention"] != index.retention:
        return False
    index.reset()
    for pid, cats in zip(meta["product_ids"], meta["categories"]):
        index._product(pid, cats)
    index._t.extend(t)
    index._p.extend(p)
    index._k.extend(k)
    index.retain_from, index.acc_start, index.clock = meta["retain_from"], meta["acc_start"], meta["clock"]
    if len(t):
        index._rebuild_accumulators()
    feed.resume(meta["high"], meta["cut"], int(meta["below"]), meta["recent"])
    return True

