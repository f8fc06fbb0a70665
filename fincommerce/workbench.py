"""The Workbench builds the parts from settings and forwards calls, like `qdrant_client.QdrantClient`.

Parts: a store (embedded or server), the embedder, the catalogue, the event log, trending
(`Popularity`), the behaviour history and the search engine. The event log tells trending and
behaviour about every stored event; nothing calls back into the Workbench.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fincommerce.catalog.products import ProductCatalog, ProductMatrix
from fincommerce.clock import LATEST, parse_now
from fincommerce.config import Settings
from fincommerce.embedding import Embedder
from fincommerce.schema import Interaction
from fincommerce.search.behaviour import BehaviourIndex
from fincommerce.search.engine import SearchEngine, Weights
from fincommerce.search.history import BehaviourHistory
from fincommerce.store import Store, open_store
from fincommerce.store.event_facts import EventFacts
from fincommerce.store.retention import CompactionPlan, compact, plan_compaction
from fincommerce.tracking.importers import ImportReport, import_rees46
from fincommerce.tracking.log import EventLog
from fincommerce.tracking.shared_vectors import SharedVectors
from fincommerce.trending.index import TrendingIndex
from fincommerce.trending.popularity import Popularity


class Workbench:
    """Explicit settings and store for notebooks and tests; module functions use a default one."""

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None,
                 embedder: Embedder | None = None) -> None:
        s = self.settings = settings or Settings.from_env()
        self.store = store or open_store(s)
        self.embedder = embedder or Embedder(s.device, s.embed_batch_size, s.embed_cache_size)
        self.products = s.products_collection
        self.interactions = s.interactions_collection
        lock = threading.RLock()  # one writer at a time across the log and the index rebuilds
        self.catalog = ProductCatalog(self.store, self.embedder, self.products, s.embed_batch_size)
        facts = EventFacts(self.store, self.interactions)  # what events share, stored once
        self.popularity = Popularity(self.store, self.interactions, s, lock, facts)
        shared = SharedVectors(self.store, self.interactions, facts)
        self.history = BehaviourHistory(self.store, self.interactions, s, lock, shared)
        self.events = EventLog(self.store, self.embedder, self.interactions, s.interaction_weights, lock,
                               [self.popularity, self.history], shared)
        self.engine = SearchEngine(s, self.embedder, self.catalog, self.popularity, self.history)
        if s.retention_days is not None:  # before the trending read, so it reads only what stays
            compact(self.store, plan_compaction(self.store, self.interactions, s, field="retention_days"))
        self.popularity.rebuild()

    @property
    def trending(self) -> TrendingIndex:
        return self.popularity.index

    @property
    def behaviour(self) -> BehaviourIndex:
        return self.history.index

    # ----- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self.popularity.save()
        self.store.close()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rebuild_trending(self) -> None:
        self.popularity.rebuild()

    def compact(self, older_than_days: float | None = None, *, apply: bool = False) -> CompactionPlan:
        """What `retention_days` (or `older_than_days`) drops; dropped only with apply=True. Trending and
        behaviour re-read the store afterwards (their windows never reach the dropped events)."""
        age = None if older_than_days is None else older_than_days * 86400.0
        plan = plan_compaction(self.store, self.interactions, self.settings, age, field="older_than_days")
        if apply and compact(self.store, plan):
            self.popularity.rebuild()
            self.history.resync()
        return plan

    # ----- catalogue ---------------------------------------------------------------------
    def index_products(self, products: pd.DataFrame | Sequence[Mapping[str, Any]], *,
                       show_progress: bool = True) -> int:
        return self.catalog.index(products, show_progress=show_progress)

    def ensure_catalog(self, n_products: int = 5000, seed: int = 0, path: str | Path | None = None) -> int:
        """Generate (or load) the catalogue CSV and index it, unless the store already holds products."""
        return self.catalog.ensure(n_products, seed, Path(path) if path else self.settings.catalog_path)

    def vocabulary(self) -> tuple[set[str], set[str]]:
        return self.catalog.vocabulary()

    def product_matrix(self) -> ProductMatrix:
        return self.catalog.matrix()

    def get_products(self, product_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self.catalog.get(product_ids)

    # ----- logging -----------------------------------------------------------------------
    def log_interaction(self, user_id: str, product_payload: Mapping[str, Any], interaction_type: str,
                        query: str = "", *, timestamp: float | None = None,
                        event_id: str | None = None) -> Interaction:
        return self.events.log_one(user_id, product_payload, interaction_type, query, timestamp=timestamp,
                                   event_id=event_id)

    def log_interactions(self, events: Sequence[Mapping[str, Any]], *, show_progress: bool = True) -> int:
        return self.events.log_many(events, show_progress=show_progress)

    def event_vectors(self, event_ids: Sequence[str]) -> np.ndarray:
        return self.events.vectors(event_ids)

    def import_events(self, path: str | Path, *, show_progress: bool = True) -> ImportReport:
        return import_rees46(self.catalog, self.events, Path(path), show_progress=show_progress)

    # ----- trending ----------------------------------------------------------------------
    def get_top_interacted_products(self, timeframe_hours: float = 24, top_k: int = 10, debug: bool = False, *,
                                    now: float | None = None, category: str | None = None) -> list[dict]:
        return self.popularity.top(timeframe_hours, top_k, debug, now=now, category=category)

    def get_rising_products(self, timeframe_hours: float = 2, top_k: int = 10, debug: bool = False, *,
                            now: float | None = None, category: str | None = None, min_events: int = 2) -> list[dict]:
        """Products whose last `timeframe_hours` are significantly above their own baseline (BH-controlled)."""
        return self.popularity.rising(timeframe_hours, top_k, debug, now=now, category=category, min_events=min_events)

    def newest_event_time(self) -> float | None:
        return self.popularity.newest()

    def oldest_event_time(self) -> float | None:
        return self.popularity.oldest()

    def resolve_now(self, value: Any) -> float | None:
        """`now` as users give it: unix seconds, ISO 8601, 'latest' (newest stored event) or empty (wall clock)."""
        return parse_now(value, self.newest_event_time() if str(value).strip().lower() == LATEST else None)

    def popularity_scores(self, product_ids: Sequence[str], *, now: float | None = None,
                          timeframe_hours: float | None = None) -> dict[str, float]:
        return self.popularity.scores(product_ids, now=now, timeframe_hours=timeframe_hours)

    # ----- search ------------------------------------------------------------------------
    def ensure_behaviour(self, now: float) -> BehaviourIndex:
        return self.history.at(now)

    def resolve_weights(self, weights: Weights) -> dict[str, float]:
        return self.engine.resolve_weights(weights)

    def search_products(self, user_id: str, query: str, top_k: int = 5, debug_mode: bool = False,
                        **options: Any) -> list[dict]:
        """Options: user_context, weights, category, min_price, max_price, now, ranker ("linear", the default
        and the seed's formula, or "learned": the LambdaRank model 02-tune-weights saves), ranker_model."""
        return self.engine.search(user_id, query, top_k, debug_mode, **options)

    def rerank_products(self, products: Sequence[Mapping[str, Any]], user_context: Mapping[str, Any] | None,
                        debug_mode: bool = False, **options: Any) -> list[dict]:
        """Options: weights, now (see `SearchEngine.rerank`)."""
        return self.engine.rerank(products, user_context, debug_mode, **options)


def open_workbench(store_path: str | Path = "", settings_file: str | Path = "", **overrides: Any) -> Workbench:
    """The notebooks' one-liner: settings from the environment (and a settings file), the store folder when given."""
    if store_path:
        overrides["store_path"] = Path(store_path)
    return Workbench(Settings.from_env(settings_file=settings_file or None, **overrides))
