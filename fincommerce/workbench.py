"""The Workbench: settings + store + embedder + trending and behaviour indexes, behind one object."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.behaviour import BehaviourEvent, BehaviourIndex
from fincommerce.config import DAY, HOUR, Settings, load_weights, validate_weights
from fincommerce.embedding import DIMENSION, Embedder
from fincommerce.popularity import TrendingIndex, top_from_events
from fincommerce.schema import INTERACTION_TYPES, Interaction, Product, ValidationError, check_finite
from fincommerce.store import PointIn, Range, Store, open_store, point_id
from fincommerce.tracking import behaviour_text, build_interaction, event_from_dict

log = logging.getLogger("fincommerce")

PRODUCT_INDEXES = {"product_id": "keyword", "brand": "keyword", "category": "keyword", "categories": "keyword",
                   "price": "float"}
INTERACTION_INDEXES = {"timestamp": "float", "user_id": "keyword", "product_id": "keyword",
                       "interaction_type": "keyword", "categories": "keyword",
                       "event_id": "keyword"}
TREND_FIELDS = ["product_id", "interaction_type", "timestamp", "categories"]
UPSERT_CHUNK = 2048  # events per embed + upsert round: big enough for the model to batch by length


def product_point_id(product_id: str) -> str:
    return point_id(f"product:{product_id}")


def event_point_id(event_id: str) -> str:
    return point_id(f"event:{event_id}")


@dataclass(frozen=True)
class ProductMatrix:
    """Every indexed product with its vector, for vectorised offline work (simulation, evaluation)."""

    ids: list[str]
    payloads: list[dict[str, Any]]
    vectors: np.ndarray  # (n, 384) float32, unit length


@dataclass
class ImportReport:
    """What `import_events` did; bad rows are listed, never fatal."""

    path: str
    rows: int = 0
    events_logged: int = 0
    already_present: int = 0
    new_products: int = 0
    skipped_types: dict[str, int] = field(default_factory=dict)
    bad_rows: list[Any] = field(default_factory=list)


class Workbench:
    """Explicit settings and store for notebooks and tests; module functions use a default one."""

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None,
                 embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.store = store or open_store(self.settings)
        self.embedder = embedder or Embedder(self.settings.device, self.settings.embed_batch_size,
                                             self.settings.embed_cache_size)
        s = self.settings
        self.products = s.products_collection
        self.interactions = s.interactions_collection
        self.store.ensure_collection(self.products, DIMENSION, PRODUCT_INDEXES)
        self.store.ensure_collection(self.interactions, DIMENSION, INTERACTION_INDEXES)
        self.trending = TrendingIndex(s.interaction_weights,
                                      {t: s.half_life_seconds(t) for t in INTERACTION_TYPES},
                                      s.trending_window_hours * HOUR)
        self.behaviour = BehaviourIndex(s.interaction_weights, s.half_life_hours * HOUR,
                                        s.behaviour_window_days * DAY, DIMENSION)
        self._behaviour_built = False
        self._write = threading.RLock()
        self._vocab: tuple[set[str], set[str]] | None = None
        self._synced_at = 0.0
        self.rebuild_trending()

    # ----- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Workbench":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rebuild_trending(self) -> None:
        """Reload the trending index from the store (exactly what an in-process run would hold)."""
        newest = next(self.store.scroll(self.interactions, order_by="timestamp", descending=True, limit=1,
                                        fields=["timestamp"]), None)
        with self._write:
            self.trending.reset()
            if newest is not None:
                start = float(newest.payload["timestamp"]) - self.trending.retention
                rows = [r.payload for r in self.store.scroll(self.interactions, [Range("timestamp", gte=start)],
                                                             fields=TREND_FIELDS)]
                self.trending.add([r["timestamp"] for r in rows], [r["product_id"] for r in rows],
                                  [r["interaction_type"] for r in rows], [r.get("categories") or [] for r in rows])
                self.trending.retain_from = max(self.trending.retain_from, start)
            self._synced_at = time.monotonic()

    def _catch_up(self) -> None:
        """Other processes may write to a shared server: re-read at most every refresh_seconds."""
        if self.settings.qdrant_url and time.monotonic() - self._synced_at >= self.settings.refresh_seconds:
            self.rebuild_trending()

    # ----- catalogue ---------------------------------------------------------------------
    def index_products(self, products: pd.DataFrame | Sequence[Mapping[str, Any]], *,
                       show_progress: bool = True) -> int:
        """Embed and upsert products in batches; the same ids are overwritten, never duplicated."""
        if isinstance(products, pd.DataFrame):
            rows = products.to_dict("records")
        elif isinstance(products, (list, tuple)):
            rows = list(products)
        else:
            raise ValidationError("products", "a list of product dicts or a DataFrame", products)
        items = [Product.from_mapping(r, where=f"products[{i}]") for i, r in enumerate(rows)]
        unique = list({p.id: p for p in items}.values())
        bar = tqdm(total=len(unique), desc="Indexing products", unit="product", disable=not show_progress)
        step = max(self.settings.embed_batch_size * 8, 256)
        for start in range(0, len(unique), step):
            chunk = unique[start:start + step]
            vectors = self.embedder.encode_uncached([p.text() for p in chunk])
            self.store.upsert(self.products, [PointIn(product_point_id(p.id), v, p.payload())
                                              for p, v in zip(chunk, vectors)])
            bar.update(len(chunk))
        bar.close()
        if self._vocab is not None:
            self._vocab[0].update(p.brand for p in unique if p.brand)
            self._vocab[1].update(c for p in unique for c in p.categories)
        log.info("Indexed %d products into %r", len(unique), self.products)
        return len(unique)

    def ensure_catalog(self, n_products: int = 5000, seed: int = 0, path: Path | None = None) -> int:
        """Generate (or load) the catalogue CSV and index it, unless the store already holds products."""
        from fincommerce.catalog import generate_catalog, load_catalog_csv, save_catalog
        from fincommerce.config import DEFAULT_CATALOG_PATH

        path = Path(path) if path else DEFAULT_CATALOG_PATH
        if self.store.count(self.products) > 0:
            log.info("The store already holds %d products", self.store.count(self.products))
            return 0
        if path.exists():
            df, _ = load_catalog_csv(path)
        else:
            df = generate_catalog(n_products, seed)
            save_catalog(df, path)
        return self.index_products(df)

    def vocabulary(self) -> tuple[set[str], set[str]]:
        """Known brands and categories, for spotting them in queries."""
        if self._vocab is None:
            brands: set[str] = set()
            cats: set[str] = set()
            for r in self.store.scroll(self.products, fields=["brand", "categories"]):
                if r.payload.get("brand"):
                    brands.add(r.payload["brand"])
                cats.update(r.payload.get("categories") or [])
            self._vocab = (brands, cats)
        return self._vocab

    def product_matrix(self) -> ProductMatrix:
        records = sorted(self.store.scroll(self.products, with_vectors=True), key=lambda r: r.payload["product_id"])
        vectors = np.stack([r.vector for r in records]) if records else np.zeros((0, DIMENSION), np.float32)
        return ProductMatrix([r.payload["product_id"] for r in records], [r.payload for r in records], vectors)

    def get_products(self, product_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = self.store.retrieve(self.products, [product_point_id(p) for p in product_ids])
        return {r.payload["product_id"]: r.payload for r in found}

    # ----- logging -----------------------------------------------------------------------
    def log_interaction(self, user_id: str, product_payload: Mapping[str, Any], interaction_type: str,
                        query: str = "", *, timestamp: float | None = None,
                        event_id: str | None = None) -> Interaction:
        """Validate, embed and store one event; re-logging the same event_id changes nothing."""
        event = build_interaction(self.settings.interaction_weights, user_id, product_payload, interaction_type,
                                  query, timestamp=timestamp, event_id=event_id)
        stored = self._write_events([event], show_progress=False)
        result = stored[0] if stored else self._stored_event(event.event_id)
        log.info("✅ Interaction saved: user=%s, type=%s, product=%s, weight=%.2f", result.user_id,
                 result.interaction_type, result.product_id, result.weight)
        return result

    def log_interactions(self, events: Sequence[Mapping[str, Any]], *, show_progress: bool = True) -> int:
        """The batch path: validates every row first, then embeds and upserts in chunks. Returns new events."""
        if not isinstance(events, (list, tuple)):
            raise ValidationError("events", "a list of event dicts", events)
        now = time.time()
        parsed = [event_from_dict(self.settings.interaction_weights, e, i, now) for i, e in enumerate(events)]
        return len(self._write_events(parsed, show_progress=show_progress))

    def _stored_event(self, event_id: str) -> Interaction:
        found = self.store.retrieve(self.interactions, [event_point_id(event_id)])
        return Interaction.from_payload(found[0].payload)

    def _write_events(self, events: list[Interaction], *, show_progress: bool) -> list[Interaction]:
        bar = tqdm(total=len(events), desc="Logging interactions", unit="event",
                   disable=not show_progress or len(events) < 2)
        written: list[Interaction] = []
        step = max(UPSERT_CHUNK, self.settings.embed_batch_size)
        for start in range(0, len(events), step):
            chunk = events[start:start + step]
            vectors = self.embedder.encode([behaviour_text(e) for e in chunk])
            with self._write:
                ids = [event_point_id(e.event_id) for e in chunk]
                existing = {r.id for r in self.store.retrieve(self.interactions, ids)}
                fresh, seen = [], set(existing)
                for e, pid, v in zip(chunk, ids, vectors):
                    if pid not in seen:
                        seen.add(pid)
                        fresh.append((e, pid, v))
                self.store.upsert(self.interactions, [PointIn(pid, v, e.payload()) for e, pid, v in fresh])
                new = [e for e, _, _ in fresh]
                self.trending.add([e.timestamp for e in new], [e.product_id for e in new],
                                  [e.interaction_type for e in new], [e.categories for e in new])
                if self._behaviour_built:
                    self.behaviour.add(BehaviourEvent(e.user_id, e.product_id, e.interaction_type, e.timestamp,
                                                      e.brand, e.categories, v) for e, _, v in fresh)
                written.extend(new)
            bar.update(len(chunk))
        bar.close()
        return written

    def import_events(self, path: str | Path, *, show_progress: bool = True) -> ImportReport:
        from fincommerce.importer import import_rees46

        return import_rees46(self, Path(path), show_progress=show_progress)

    # ----- trending ----------------------------------------------------------------------
    def get_top_interacted_products(self, timeframe_hours: float = 24, top_k: int = 10, debug: bool = False, *,
                                    now: float | None = None, category: str | None = None) -> list[dict]:
        """Exact time-decayed trending; see `fincommerce.popularity` for the semantics."""
        timeframe = check_finite("timeframe_hours", timeframe_hours, minimum=0.0) * HOUR
        if timeframe <= 0:
            raise ValidationError("timeframe_hours", "a number > 0", timeframe_hours)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 100_000:
            raise ValidationError("top_k", "an integer between 1 and 100000", top_k)
        if category is not None and (not isinstance(category, str) or not category.strip()):
            raise ValidationError("category", "a non-empty string or None", category)
        now = time.time() if now is None else check_finite("now", now)
        self._catch_up()
        if debug:
            log.info("🔍 Fetching popular products (last %gh, top %d)", timeframe_hours, top_k)
        if self.trending.covers(now - timeframe):
            rows = self.trending.top(now, timeframe, top_k, category)
        else:
            rows = self._top_from_store(now, timeframe, top_k, category)
        if not rows:
            log.warning("No interactions found in timeframe")
        elif debug:
            log.info("📊 Top %d popular products:", len(rows))
            for i, r in enumerate(rows, 1):
                log.info("  #%d: product_id=%s, interactions=%d, popularity=%.3f", i, r["product_id"],
                         r["total_interactions"], r["weighted_popularity_score"])
        return rows

    def _top_from_store(self, now: float, timeframe: float, top_k: int, category: str | None) -> list[dict]:
        where = [Range("timestamp", gte=now - timeframe, lte=now)]
        rows = [r.payload for r in self.store.scroll(self.interactions, where, fields=TREND_FIELDS)]
        log.info("Found %d interactions in timeframe (read from the store)", len(rows))
        return top_from_events(np.array([r["timestamp"] for r in rows]), [r["product_id"] for r in rows],
                               [r["interaction_type"] for r in rows], [r.get("categories") or [] for r in rows],
                               now, timeframe, self.trending.weights, self.trending.half_lives, top_k, category)

    def popularity_scores(self, product_ids: Sequence[str], *, now: float | None = None,
                          timeframe_hours: float | None = None) -> dict[str, float]:
        """{product_id: 0–1}; 0.0 for products never seen (cold start)."""
        now = time.time() if now is None else now
        timeframe = (timeframe_hours or self.settings.trending_window_hours) * HOUR
        self._catch_up()
        if self.trending.covers(now - timeframe):
            values = self.trending.popularity(list(product_ids), now, timeframe)
            return dict(zip(product_ids, map(float, values)))
        rows = self._top_from_store(now, timeframe, None, None)
        table = {r["product_id"]: r["weighted_popularity_score"] for r in rows}
        return {p: float(table.get(p, 0.0)) for p in product_ids}

    # ----- behaviour ---------------------------------------------------------------------
    def ensure_behaviour(self, now: float) -> BehaviourIndex:
        """Build (or slide) the 7-day behaviour index from the store when needed."""
        if self._behaviour_built and not self.behaviour.needs_rebuild(now):
            return self.behaviour
        with self._write:
            start = now - self.behaviour.window
            self.behaviour.reset(retain_from=start)
            records = self.store.scroll(self.interactions, [Range("timestamp", gte=start)], with_vectors=True,
                                        fields=["user_id", "product_id", "interaction_type", "timestamp",
                                                "brand", "categories"])
            self.behaviour.add(BehaviourEvent(r.payload["user_id"], r.payload["product_id"],
                                              r.payload["interaction_type"], float(r.payload["timestamp"]),
                                              r.payload.get("brand", ""), r.payload.get("categories") or [],
                                              r.vector) for r in records)
            self._behaviour_built = True
        return self.behaviour

    # ----- search ------------------------------------------------------------------------
    def resolve_weights(self, weights: Mapping[str, float] | str | Path | None) -> dict[str, float]:
        if weights is None:
            return dict(self.settings.ranking_weights)
        if isinstance(weights, (str, Path)):
            return load_weights(weights)
        return validate_weights(weights)

    def search_products(self, user_id: str, query: str, top_k: int = 5, debug_mode: bool = False, *,
                        user_context: Mapping[str, Any] | None = None,
                        weights: Mapping[str, float] | str | Path | None = None, category: str | None = None,
                        min_price: float | None = None, max_price: float | None = None,
                        now: float | None = None) -> list[dict]:
        from fincommerce.search import search_products

        return search_products(self, user_id, query, top_k, debug_mode, user_context=user_context,
                               weights=weights, category=category, min_price=min_price, max_price=max_price,
                               now=now)

    def rerank_products(self, products: Sequence[Mapping[str, Any]], user_context: Mapping[str, Any] | None,
                        debug_mode: bool = False, *, weights: Mapping[str, float] | str | Path | None = None,
                        now: float | None = None) -> list[dict]:
        from fincommerce.search import rerank_products

        return rerank_products(self, products, user_context, debug_mode, weights=weights, now=now)
