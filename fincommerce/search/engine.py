"""search_products: semantic candidates from the catalogue, reranked by five signals, each explained.

The engine is given its parts (catalogue, popularity, behaviour history, embedder); it never sees
the Workbench, so the path of a search is: engine → catalogue (store query) → popularity → behaviour
→ ranking.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fincommerce.catalog.products import ProductCatalog
from fincommerce.config import Settings, load_weights, validate_weights
from fincommerce.debugging import visible_logs
from fincommerce.embedding import Embedder
from fincommerce.errors import ValidationError
from fincommerce.schema import CATEGORIES, MAX_QUERY_CHARS, PRICE, PRODUCT_ID, Product, check_finite, check_text
from fincommerce.search.history import BehaviourHistory
from fincommerce.search.learned import MODEL_FILE, LearnedRanker, check_ranker
from fincommerce.search.query import parse_query
from fincommerce.search.ranking import Candidates, rank_candidates
from fincommerce.store import Match, Range
from fincommerce.trending.popularity import Popularity

log = logging.getLogger(__name__)

MAX_TOP_K = 1000
Weights = Mapping[str, float] | str | Path | None


def _names(context: Mapping[str, Any], key: str) -> set[str]:
    value = context.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"user_context.{key}", "a list of strings", value)
    return {v.lower() for v in value if v}


def _context(user_context: Mapping[str, Any] | None) -> dict[str, Any]:
    if user_context is None:
        return {}
    if not isinstance(user_context, Mapping):
        raise ValidationError("user_context", "a dict (budget, brands, categories)", user_context)
    ctx = dict(user_context)
    if ctx.get("budget") is not None:
        ctx["budget"] = check_finite("user_context.budget", ctx["budget"], minimum=0.0) or None
    return ctx


class SearchEngine:
    def __init__(self, settings: Settings, embedder: Embedder, catalog: ProductCatalog, popularity: Popularity,
                 history: BehaviourHistory) -> None:
        self.settings = settings
        self.embedder = embedder
        self.catalog = catalog
        self.popularity = popularity
        self.history = history
        self._model: tuple[tuple[str, int | None], LearnedRanker] | None = None

    def resolve_weights(self, weights: Weights) -> dict[str, float]:
        if weights is None:
            return dict(self.settings.ranking_weights)
        if isinstance(weights, (str, Path)):
            return load_weights(weights)
        return validate_weights(weights)

    def learned_model(self, ranker: str = "linear", model_path: str | Path | None = None) -> LearnedRanker | None:
        """None for the linear formula; else the saved LambdaRank model (loaded once per file version)."""
        if check_ranker(ranker) == "linear":
            return None
        path = Path(model_path) if model_path else self.settings.data_dir / MODEL_FILE
        key = (str(path), path.stat().st_mtime_ns if path.is_file() else None)
        if self._model is None or self._model[0] != key:
            self._model = (key, LearnedRanker.load(path))
        return self._model[1]

    def _history_features(self, cands: Candidates, user_id: str | None, now: float) -> Candidates:
        """The raw inputs only the learned ranker uses: the window's top raw popularity, the user's history size."""
        index, window = self.popularity.index, self.settings.trending_window_hours * 3600.0
        if index.covers(now - window):
            raw = index.scores(now, window)[0]
            cands.trending_peak = float(raw.max()) if len(raw) else 0.0
        behaviour = self.history.at(now)
        u = behaviour.users.get(user_id) if user_id else None
        if u is not None:
            cands.user_products, cands.user_purchases = len(behaviour.items[u]), len(behaviour.purchased[u])
        return cands

    def _candidates(self, user_id: str | None, ids: list[str], payloads: list[dict[str, Any]], cosine: np.ndarray,
                    now: float, debug: bool) -> Candidates:
        popularity = self.popularity.scores(ids, now=now)
        pop = np.array([popularity[p] for p in ids])
        if debug:
            top = self.popularity.top(self.settings.trending_window_hours, 1, now=now)
            log.info("📊 Loaded popularity data for %d products", self.popularity.n_products_in_window(now))
            if top:
                log.info("   Top popular: %s (score: %.3f)", top[0]["product_id"], top[0]["weighted_popularity_score"])
        behaviour = self.history.at(now)
        zeros = np.zeros(len(ids))
        collab, bought = behaviour.collaborative(user_id, ids) if user_id else (zeros, zeros)
        brand_aff, cat_aff = behaviour.affinities(user_id) if user_id else ({}, {})
        return Candidates(ids, payloads, cosine, pop, collab, bought, brand_aff, cat_aff)

    def search(self, user_id: str, query: str, top_k: int = 5, debug_mode: bool = False, **options: Any) -> list[dict]:
        """Unknown users are cold starts (collaborative 0, preferences from context only), not errors.

        Options: user_context, weights, category, min_price, max_price, now, ranker ("linear" or "learned"),
        ranker_model (the learned model file; default learned_ranker.txt beside the store)."""
        with visible_logs(debug_mode):
            return self._search(user_id, query, top_k, debug_mode, **options)

    def _search(self, user_id: str, query: str, top_k: int, debug_mode: bool, *,
                user_context: Mapping[str, Any] | None = None, weights: Weights = None,
                category: str | None = None, min_price: float | None = None, max_price: float | None = None,
                now: float | None = None, ranker: str = "linear", ranker_model: str | Path | None = None) -> list[dict]:
        model = self.learned_model(ranker, ranker_model)
        user = check_text("user_id", user_id)
        text = check_text("query", query, MAX_QUERY_CHARS)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise ValidationError("top_k", f"an integer between 1 and {MAX_TOP_K}", top_k)
        ctx = _context(user_context)
        w = self.resolve_weights(weights)
        now = time.time() if now is None else check_finite("now", now)
        brands, cats = self.catalog.vocabulary()
        parsed = parse_query(text, brands, cats)
        where: list[Any] = []
        if category is not None:
            where.append(Match(CATEGORIES, check_text("category", category)))
        lo = None if min_price is None else check_finite("min_price", min_price, minimum=0.0)
        hi = None if max_price is None else check_finite("max_price", max_price, minimum=0.0)
        if lo is not None or hi is not None:
            where.append(Range(PRICE, gte=lo, lte=hi))
        started = time.perf_counter()
        vector = self.embedder.encode_one(parsed.text)
        hits = self.catalog.nearest(vector, max(self.settings.candidates, top_k), where)
        ids = [h.payload[PRODUCT_ID] for h in hits]
        cands = self._candidates(user, ids, [h.payload for h in hits], np.array([h.score for h in hits]), now,
                                 debug_mode)
        budget = parsed.budget if parsed.budget is not None else ctx.get("budget")
        floor = parsed.min_price if parsed.budget is not None else None
        if model is not None:
            self._history_features(cands, user, now)
        results = rank_candidates(
            cands, w, budget=budget, floor=floor, liked_brands=_names(ctx, "brands"),
            liked_categories=_names(ctx, "categories"), asked_brands={b.lower() for b in parsed.brands},
            asked_categories={c.lower() for c in parsed.categories}, top_k=top_k,
            window_hours=self.settings.trending_window_hours, debug=debug_mode, model=model)
        if debug_mode:
            log.info("🔎 search %r → %d candidates, %d results in %.1f ms (budget=%s)", parsed.text, len(hits),
                     len(results), 1000 * (time.perf_counter() - started), budget)
        return results

    def rerank(self, products: Sequence[Mapping[str, Any]], user_context: Mapping[str, Any] | None,
               debug_mode: bool = False, *, weights: Weights = None, now: float | None = None) -> list[dict]:
        """The seed's reranker over already-retrieved products (`{"payload": {...}, "score": cosine}`)."""
        with visible_logs(debug_mode):
            return self._rerank(products, user_context, debug_mode, weights, now)

    def _rerank(self, products: Sequence[Mapping[str, Any]], user_context: Mapping[str, Any] | None,
                debug_mode: bool, weights: Weights, now: float | None) -> list[dict]:
        if not isinstance(products, Sequence) or isinstance(products, (str, bytes)):
            raise ValidationError("products", "a list of {'payload': ..., 'score': ...} dicts", products)
        ctx = _context(user_context)
        ids, payloads, cosine = [], [], []
        for i, p in enumerate(products):
            payload = p.get("payload", p) if isinstance(p, Mapping) else None
            if not isinstance(payload, Mapping):
                raise ValidationError(f"products[{i}]", "a dict with a payload", p)
            pid = payload.get("product_id", payload.get("id", p.get("product_id", p.get("id"))))
            ids.append(check_text(f"products[{i}].product_id", pid))
            product = Product.from_mapping({**payload, "id": ids[-1]}, where=f"products[{i}].payload")
            payloads.append({**payload, **product.payload()})
            cosine.append(check_finite(f"products[{i}].score", p.get("score", 0.0)))
        now = time.time() if now is None else check_finite("now", now)
        cands = self._candidates(ctx.get("user_id"), ids, payloads, np.array(cosine), now, debug_mode)
        return rank_candidates(cands, self.resolve_weights(weights), budget=ctx.get("budget"),
                               liked_brands=_names(ctx, "brands"), liked_categories=_names(ctx, "categories"),
                               window_hours=self.settings.trending_window_hours, debug=debug_mode)
