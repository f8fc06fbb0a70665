"""The products collection: index, look up and search the catalogue in the store."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.catalog.generate import generate_catalog
from fincommerce.catalog.io import load_catalog_csv, save_catalog
from fincommerce.embedding import DIMENSION, Embedder
from fincommerce.errors import ValidationError
from fincommerce.schema import BRAND, CATEGORIES, PRODUCT_ID, Product
from fincommerce.store import PointIn, Record, Store, Where, product_point_id
from fincommerce.store.ids import PRODUCT_INDEXES, product_point_ids

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProductMatrix:
    """Every indexed product with its vector, for vectorised offline work (simulation, evaluation)."""

    ids: list[str]
    payloads: list[dict[str, Any]]
    vectors: np.ndarray  # (n, 384) float32, unit length


class ProductCatalog:
    """Products in one collection; knows its brands and categories for query understanding."""

    def __init__(self, store: Store, embedder: Embedder, collection: str, batch_size: int = 64) -> None:
        self.store = store
        self.embedder = embedder
        self.collection = collection
        self.batch_size = batch_size
        self._vocab: tuple[set[str], set[str]] | None = None
        store.ensure_collection(collection, DIMENSION, PRODUCT_INDEXES)

    def count(self) -> int:
        return self.store.count(self.collection)

    def index(self, products: pd.DataFrame | Sequence[Mapping[str, Any]], *, show_progress: bool = True) -> int:
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
        step = max(self.batch_size * 8, 256)
        for start in range(0, len(unique), step):
            chunk = unique[start:start + step]
            vectors = self.embedder.encode([p.text() for p in chunk])  # an import embeds its texts beforehand
            ids = product_point_ids([p.id for p in chunk])
            self.store.upsert(self.collection, [PointIn(i, v, p.payload()) for i, p, v in zip(ids, chunk, vectors)])
            bar.update(len(chunk))
        bar.close()
        if self._vocab is not None:
            self._vocab[0].update(p.brand for p in unique if p.brand)
            self._vocab[1].update(c for p in unique for c in p.categories)
        log.info("Indexed %d products into %r", len(unique), self.collection)
        return len(unique)

    def ensure(self, n_products: int, seed: int, path: Path) -> int:
        """Load (or generate and save) the catalogue CSV at `path` and index it, unless products are indexed."""
        if self.count() > 0:
            log.info("The store already holds %d products", self.count())
            return 0
        if path.exists():
            df, _ = load_catalog_csv(path)
        else:
            df = generate_catalog(n_products, seed)
            save_catalog(df, path)
        return self.index(df)

    def vocabulary(self) -> tuple[set[str], set[str]]:
        """Known brands and categories, for spotting them in queries."""
        if self._vocab is None:
            brands: set[str] = set()
            cats: set[str] = set()
            for r in self.store.scroll(self.collection, fields=[BRAND, CATEGORIES]):
                if r.payload.get(BRAND):
                    brands.add(r.payload[BRAND])
                cats.update(r.payload.get(CATEGORIES) or [])
            self._vocab = (brands, cats)
        return self._vocab

    def matrix(self) -> ProductMatrix:
        records = sorted(self.store.scroll(self.collection, with_vectors=True), key=lambda r: r.payload[PRODUCT_ID])
        vectors = np.stack([r.vector for r in records]) if records else np.zeros((0, DIMENSION), np.float32)
        return ProductMatrix([r.payload[PRODUCT_ID] for r in records], [r.payload for r in records], vectors)

    def ids(self) -> list[str]:
        """Every indexed product id (payload only: no vectors read)."""
        return sorted(r.payload[PRODUCT_ID] for r in self.store.scroll(self.collection, fields=[PRODUCT_ID]))

    def known(self, product_ids: Sequence[str]) -> set[str]:
        """Which of these products are indexed (ids only: no payload read)."""
        ids = dict(zip(product_point_ids(product_ids), product_ids))
        return {ids[i] for i in self.store.present(self.collection, list(ids))}

    def get(self, product_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = self.store.retrieve(self.collection, [product_point_id(p) for p in product_ids])
        return {r.payload[PRODUCT_ID]: r.payload for r in found}

    def nearest(self, vector: np.ndarray, limit: int, where: Where = ()) -> list[Record]:
        return self.store.query(self.collection, vector, limit, where)
