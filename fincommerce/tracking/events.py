"""Interaction logging: validation, behavioural text, and the batch path the simulator and importer use."""
from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fincommerce.errors import ValidationError
from fincommerce.schema import (
    INTERACTION_TYPES,
    MAX_QUERY_CHARS,
    Interaction,
    Product,
    check_finite,
    check_string,
    check_text,
)

MAX_FUTURE_SECONDS = 300.0
BATCH_NAMESPACE = uuid.UUID("0c9e6b47-4a49-5d8e-b1f3-6a2f9d1c7e55")  # ids of batch events given without one
VERBS = {"view": "viewed", "click": "clicked", "add_to_cart": "added to cart", "purchase": "purchased"}


def format_price(price: float) -> str:
    """As a person writes it: 1299 (the seed's sentence), 1,234,567 and 129,999.99 (never 1.23457e+06)."""
    grouping = "," if price >= 10_000 else ""
    return f"{price:{grouping}.0f}" if float(price).is_integer() else f"{price:{grouping}.2f}"


def behaviour_text(i: Interaction) -> str:
    """The sentence that is embedded, e.g. "user purchased Apple MacBook Pro price 1299 for machine learning laptop"."""
    name = i.product_name
    if i.brand and not name.lower().startswith(i.brand.lower()):
        name = f"{i.brand} {name}"
    parts = [f"user {VERBS[i.interaction_type]} {name}"]
    if i.price:
        parts.append(f"price {format_price(i.price)}")
    if i.query:
        parts.append(f"for {i.query}")
    return " ".join(parts)


def behaviour_texts(events: Sequence[Interaction]) -> tuple[list[int], list[str]]:
    """Each event's position among the distinct sentences, and those sentences, each built once (a batch
    repeats a few thousand of them)."""
    where: dict[tuple[Any, ...], int] = {}
    texts: list[str] = []
    codes = []
    for e in events:
        key = (e.interaction_type, e.product_name, e.brand, e.price, e.query)
        k = where.get(key)
        if k is None:
            k = where[key] = len(texts)
            texts.append(behaviour_text(e))
        codes.append(k)
    return codes, texts


ProductMemo = dict[int, tuple[Any, Product]]


def _product(payload: Any, memo: ProductMemo | None) -> Product:
    """A batch repeats the same few product dicts: each dict object is validated once per batch (the memo
    keeps the dict itself, so an id is never reused for another object while the memo lives)."""
    hit = memo.get(id(payload)) if memo is not None else None
    if hit is not None and hit[0] is payload:
        return hit[1]
    if not isinstance(payload, Mapping) or not (payload.get("id") or payload.get("product_id")):
        raise ValidationError("product_payload.id", "a product dict with 'id' or 'product_id'", payload)
    product = Product.from_mapping(dict(payload), where="product_payload")
    if memo is not None:
        memo[id(payload)] = (payload, product)
    return product


def build_interaction(weights: Mapping[str, float], user_id: Any, product_payload: Any, interaction_type: Any,
                      query: Any = "", *, timestamp: Any = None, event_id: Any = None,
                      now: float | None = None, memo: ProductMemo | None = None) -> Interaction:
    """Validate one event completely before anything is written; errors name the field."""
    user = check_text("user_id", user_id)
    if interaction_type not in INTERACTION_TYPES:
        raise ValidationError("interaction_type", f"one of {', '.join(INTERACTION_TYPES)}", interaction_type)
    product = _product(product_payload, memo)
    query = check_string("query", "" if query is None else query, MAX_QUERY_CHARS)
    wall = time.time() if now is None else now
    if timestamp is None:
        ts = round(wall, 3)
    else:
        ts = check_finite("timestamp", timestamp, minimum=0.0)
        if ts > wall + MAX_FUTURE_SECONDS:
            raise ValidationError("timestamp", "unix seconds no more than 5 minutes in the future", timestamp)
        ts = round(ts, 3)  # millisecond precision survives the store's JSON round trip bit for bit
    if event_id is None:
        eid = str(uuid.uuid4())
    else:
        eid = check_text("event_id", event_id)
    return Interaction(eid, user, product.id, interaction_type, float(weights[interaction_type]), ts,
                       query.strip(), product.name, product.brand, product.categories, product.price)


def batch_event_ids(events: list[Interaction]) -> list[str]:
    """Ids for batch events given without one: from the whole batch's content and the position in it, so
    logging the same batch again (after a failed write) is recognised, while an identical event in another
    batch stays a separate event."""
    digest = hashlib.sha1()
    for e in events:
        digest.update(repr((e.user_id, e.product_id, e.interaction_type, e.timestamp, e.query, e.price)).encode())
    key = digest.hexdigest()
    return [str(uuid.uuid5(BATCH_NAMESPACE, f"{key}:{i}")) for i in range(len(events))]


def event_from_dict(weights: Mapping[str, float], event: Any, index: int, now: float,
                    memo: ProductMemo | None = None) -> Interaction:
    """Batch rows use the same fields as log_interaction; errors say which row."""
    if not isinstance(event, Mapping):
        raise ValidationError(f"events[{index}]", "a dict", event)
    unknown = set(event) - {
        "user_id",
        "product_payload",
        "product",
        "interaction_type",
        "query",
        "timestamp",
        "event_id",
    }
    if unknown:
        raise ValidationError(f"events[{index}].{sorted(unknown)[0]}", "a known field", sorted(unknown))
    try:
        return build_interaction(
            weights, event.get("user_id"), event.get("product_payload", event.get("product")),
            event.get("interaction_type"), event.get("query", ""), timestamp=event.get("timestamp"),
            event_id=event.get("event_id"), now=now, memo=memo)
    except ValidationError as exc:
        raise ValidationError(f"events[{index}].{exc.field}", exc.expected, None) from exc

