"""search_products: semantic candidates from the store, reranked by five signals, each explained."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from fincommerce.query import parse_query
from fincommerce.ranking import Candidates, rank_candidates
from fincommerce.schema import ValidationError, check_finite, check_text
from fincommerce.store import Match, Range

if TYPE_CHECKING:
    from fincommerce.workbench import Workbench

log = logging.getLogger("fincommerce")

MAX_TOP_K = 1000
MAX_EMBEDDED_CHARS = 2000  # the model reads 256 tokens; longer queries are cut, not rejected


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


def _candidates(wb: "Workbench", user_id: str | None, ids: list[str], payloads: list[dict[str, Any]],
                cosine: np.ndarray, now: float, debug: bool) -> Candidates:
    popularity = wb.popularity_scores(ids, now=now)
    pop = np.array([popularity[p] for p in ids])
    if debug:
        top = wb.get_top_interacted_products(wb.settings.trending_window_hours, 1, now=now)
        log.info("📊 Loaded popularity data for %d products", wb.trending.n_products_in_window(now))
        if top:
            log.info("   Top popular: %s (score: %.3f)", top[0]["product_id"], top[0]["weighted_popularity_score"])
    behaviour = wb.ensure_behaviour(now)
    collab, bought = behaviour.collaborative(user_id, ids) if user_id else (np.zeros(len(ids)), np.zeros(len(ids)))
    brand_aff, cat_aff = behaviour.affinities(user_id) if user_id else ({}, {})
    return Candidates(ids, payloads, cosine, pop, collab, bought, brand_aff, cat_aff)


def search_products(wb: "Workbench", user_id: str, query: str, top_k: int = 5, debug_mode: bool = False, *,
                    user_context: Mapping[str, Any] | None = None,
                    weights: Mapping[str, float] | str | Path | None = None, category: str | None = None,
                    min_price: float | None = None, max_price: float | None = None,
                    now: float | None = None) -> list[dict]:
    """Unknown users are cold starts (collaborative 0, preferences from context only), not errors."""
    user = check_text("user_id", user_id)
    text = check_text("query", query)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise ValidationError("top_k", f"an integer between 1 and {MAX_TOP_K}", top_k)
    ctx = _context(user_context)
    w = wb.resolve_weights(weights)
    now = time.time() if now is None else check_finite("now", now)
    brands, cats = wb.vocabulary()
    parsed = parse_query(text, brands, cats)
    where: list[Any] = []
    if category is not None:
        where.append(Match("categories", check_text("category", category)))
    lo = None if min_price is None else check_finite("min_price", min_price, minimum=0.0)
    hi = None if max_price is None else check_finite("max_price", max_price, minimum=0.0)
    if lo is not None or hi is not None:
        where.append(Range("price", gte=lo, lte=hi))
    started = time.perf_counter()
    vector = wb.embedder.encode_one(parsed.text[:MAX_EMBEDDED_CHARS])
    hits = wb.store.query(wb.products, vector, max(wb.settings.candidates, top_k), where)
    ids = [h.payload["product_id"] for h in hits]
    cands = _candidates(wb, user, ids, [h.payload for h in hits], np.array([h.score for h in hits]), now,
                        debug_mode)
    budget = parsed.budget if parsed.budget is not None else ctx.get("budget")
    results = rank_candidates(
        cands, w, budget=budget,
        liked_brands=_names(ctx, "brands") | {b.lower() for b in parsed.brands},
        liked_categories=_names(ctx, "categories") | {c.lower() for c in parsed.categories},
        top_k=top_k, window_hours=wb.settings.trending_window_hours, debug=debug_mode)
    if debug_mode:
        log.info("🔎 search %r → %d candidates, %d results in %.1f ms (budget=%s)", parsed.text, len(hits),
                 len(results), 1000 * (time.perf_counter() - started), budget)
    return results


def rerank_products(wb: "Workbench", products: Sequence[Mapping[str, Any]], user_context: Mapping[str, Any] | None,
                    debug_mode: bool = False, *, weights: Mapping[str, float] | str | Path | None = None,
                    now: float | None = None) -> list[dict]:
    """The seed's reranker over already-retrieved products (`{"payload": {...}, "score": cosine}`)."""
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
        payloads.append(dict(payload))
        cosine.append(check_finite(f"products[{i}].score", p.get("score", 0.0)))
    now = time.time() if now is None else now
    user = ctx.get("user_id")
    cands = _candidates(wb, user, ids, payloads, np.array(cosine), now, debug_mode)
    return rank_candidates(cands, wb.resolve_weights(weights), budget=ctx.get("budget"),
                           liked_brands=_names(ctx, "brands"), liked_categories=_names(ctx, "categories"),
                           window_hours=wb.settings.trending_window_hours, debug=debug_mode)


