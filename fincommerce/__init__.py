"""FinCommerce Workbench: interaction tracking and popularity-aware, explainable product search.

Module-level functions use a default `Workbench` built from the environment (seed-compatible API);
notebooks and tests that want explicit settings create their own `Workbench(Settings(...))`.
"""
from __future__ import annotations

import os

# Before torch or LightGBM load their OpenMP runtime: waiting threads sleep instead of spinning. On a busy
# machine spinning threads fight for the cores and embedding runs 2-4x slower (benchmarks/run_benchmarks.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fincommerce.config import Settings
from fincommerce.errors import (
    ConfigError,
    FincommerceError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    ValidationError,
)
from fincommerce.schema import INTERACTION_WEIGHTS, Interaction, InteractionType, Product
from fincommerce.tracking.importers import ImportReport
from fincommerce.workbench import Workbench, open_workbench

__version__ = "0.1.0"

_default: Workbench | None = None
_default_lock = threading.Lock()


def default_workbench() -> Workbench:
    """The process-wide workbench, opened lazily from FINCOMMERCE_* / QDRANT_* settings."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Workbench(Settings.from_env())
        return _default


def set_default_workbench(workbench: Workbench | None) -> None:
    """Point the module-level functions at another workbench (or None to reopen from config)."""
    global _default
    with _default_lock:
        _default = workbench


def index_products(products: pd.DataFrame | Iterable[Mapping[str, Any]], *, show_progress: bool = True) -> int:
    return default_workbench().index_products(products, show_progress=show_progress)


def log_interaction(user_id: str, product_payload: Mapping[str, Any], interaction_type: InteractionType,
                    query: str = "", *, timestamp: float | None = None, event_id: str | None = None) -> Interaction:
    return default_workbench().log_interaction(user_id, product_payload, interaction_type, query,
                                               timestamp=timestamp, event_id=event_id)


def log_interactions(events: Iterable[Mapping[str, Any]], *, show_progress: bool = True) -> int:
    return default_workbench().log_interactions(events, show_progress=show_progress)


def import_events(path: str | Path, *, show_progress: bool = True) -> ImportReport:
    return default_workbench().import_events(path, show_progress=show_progress)


def get_top_interacted_products(timeframe_hours: float = 24, top_k: int = 10, debug: bool = False, *,
                                now: float | None = None, category: str | None = None) -> list[dict]:
    return default_workbench().get_top_interacted_products(timeframe_hours, top_k, debug, now=now,
                                                           category=category)


def get_rising_products(timeframe_hours: float = 2, top_k: int = 10, debug: bool = False, *,
                        now: float | None = None, category: str | None = None, min_events: int = 2) -> list[dict]:
    return default_workbench().get_rising_products(timeframe_hours, top_k, debug, now=now, category=category,
                                                   min_events=min_events)


def popularity_scores(product_ids: Sequence[str], *, now: float | None = None) -> dict[str, float]:
    return default_workbench().popularity_scores(product_ids, now=now)


def search_products(user_id: str, query: str, top_k: int = 5, debug_mode: bool = False, **options: Any) -> list[dict]:
    """Options: user_context, weights, category, min_price, max_price, now (see `SearchEngine.search`)."""
    return default_workbench().search_products(user_id, query, top_k, debug_mode, **options)


def rerank_products(products: Sequence[Mapping[str, Any]], user_context: Mapping[str, Any] | None,
                    workbench: Workbench | None = None, debug_mode: bool = False, **options: Any) -> list[dict]:
    """The seed's third argument (its Qdrant client) is the workbench to read popularity and behaviour from."""
    return (workbench or default_workbench()).rerank_products(products, user_context, debug_mode, **options)


__all__ = [
    "INTERACTION_WEIGHTS",
    "ConfigError",
    "FincommerceError",
    "ImportReport",
    "Interaction",
    "InteractionType",
    "Product",
    "Settings",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "ValidationError",
    "Workbench",
    "default_workbench",
    "open_workbench",
    "get_rising_products",
    "get_top_interacted_products",
    "import_events",
    "index_products",
    "log_interaction",
    "log_interactions",
    "popularity_scores",
    "rerank_products",
    "search_products",
    "set_default_workbench",
]
