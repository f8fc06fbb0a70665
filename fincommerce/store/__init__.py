"""Store facade: picks the backend from settings, like qdrant-client picks local or remote."""
from __future__ import annotations

from fincommerce.config import Settings
from fincommerce.store.base import Match, MatchAny, PointIn, Range, Record, Store, Where
from fincommerce.store.edge import EdgeStore
from fincommerce.store.ids import event_point_id, point_id, product_point_id


def open_store(settings: Settings) -> Store:
    """QDRANT_URL set → that server; otherwise the embedded qdrant-edge folder."""
    if settings.qdrant_url:
        from fincommerce.store.client import ClientStore  # not a cycle: qdrant-client (~1 s) only for a server

        return ClientStore(settings.qdrant_url, settings.qdrant_api_key, settings.qdrant_timeout)
    return EdgeStore(settings.store_path)


__all__ = ["EdgeStore", "Match", "MatchAny", "PointIn", "Range", "Record", "Store", "Where",
           "event_point_id", "open_store", "point_id", "product_point_id"]
