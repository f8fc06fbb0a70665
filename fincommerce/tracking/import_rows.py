"""A parsed REES46 chunk as the event log's `Interaction`s, by column instead of by row.

`EventLog.validate` checks one dict per event (~40 µs each, most of a month's import that is not embedding).
The parser has already checked every per-event field the log checks (non-blank ids within MAX_ID_CHARS, a
known type, a time inside the accepted range), and a chunk repeats few products, so here each distinct
product and price is validated once and the per-event fields are checked by column. The result is exactly
what `validate` gives for the same rows; anything this path does not vouch for returns None, and the caller
takes the row-by-row path, whose errors name each bad row.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fincommerce.errors import ValidationError
from fincommerce.schema import INTERACTION_TYPES, MAX_ID_CHARS, Interaction, Product
from fincommerce.tracking.events import MAX_FUTURE_SECONDS

MEMO = 100_000  # validated payloads remembered between chunks and files (a month's days repeat its products)


def product_payloads(events: pd.DataFrame, products: Mapping[str, dict]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One payload per distinct (product, price) of the chunk, and each event's position among them."""
    pid_codes, pids = pd.factorize(events["product_id"].to_numpy(dtype=object))
    price_codes, prices = pd.factorize(events["price"].to_numpy(dtype=np.float64))
    keys = pid_codes.astype(np.int64) * max(1, len(prices)) + price_codes
    _, at, codes = np.unique(keys, return_index=True, return_inverse=True)
    pairs = zip(pids[pid_codes[at]].tolist(), prices[price_codes[at]].tolist(), strict=True)
    return codes.ravel(), [{**products[pid], "price": float(price)} for pid, price in pairs]


@dataclass
class Memo:
    """What an import learns in a chunk and reuses in the next one and the next file: products repeat.
    Both are pure functions of their keys, so one memo serves every import in the process."""

    rows: dict[tuple[Any, ...], dict] = field(default_factory=dict)  # a product's log row → its product dict
    checked: dict[tuple[Any, ...], Product] = field(default_factory=dict)  # a payload's content → the Product


def interactions(events: pd.DataFrame, products: Mapping[str, dict], weights: Mapping[str, float],
                 checked: dict[tuple[Any, ...], Product] | None = None) -> list[Interaction] | None:
    """`EventLog.validate(_batch(events))` for a chunk every row of which it accepts; otherwise None."""
    n = len(events)
    codes, payloads = product_payloads(events, products)
    items = _checked(payloads, {} if checked is None else checked)
    if items is None:
        return None
    users = _texts(events["user_id"].to_numpy(dtype=object))
    ids = _texts(events["event_id"].to_numpy(dtype=object))
    types = events["interaction_type"].to_numpy(dtype=object)
    ts = events["timestamp"].to_numpy(dtype=np.float64)
    if users is None or ids is None or not set(pd.unique(types)) <= set(INTERACTION_TYPES):
        return None
    if not (np.isfinite(ts).all() and (ts >= 0).all() and (ts <= time.time() + MAX_FUTURE_SECONDS).all()):
        return None
    rounded = [round(t, 3) for t in ts.tolist()]  # Python's round, as the row path does it
    weight = {t: float(weights[t]) for t in INTERACTION_TYPES}
    new = Interaction.__new__
    out = []
    for eid, user, kind, t, k in zip(ids, users, types.tolist(), rounded, codes.tolist(), strict=True):
        p = items[k]
        e = new(Interaction)  # a frozen dataclass: its __init__ sets each field through object.__setattr__
        e.__dict__.update(event_id=eid, user_id=user, product_id=p.id, interaction_type=kind, weight=weight[kind],
                          timestamp=t, query="", product_name=p.name, brand=p.brand, categories=p.categories,
                          price=p.price)
        out.append(e)
    return out if len(out) == n else None


def _checked(payloads: list[dict[str, Any]], memo: dict[tuple[Any, ...], Product]) -> list[Product] | None:
    """`Product.from_mapping` of each payload (the row path's check), once per content; None if one fails."""
    if len(memo) > MEMO:
        memo.clear()
    out = []
    for p in payloads:
        key = (p["id"], p["name"], p["brand"], tuple(p["categories"]), p["price"], p["description"])
        product = memo.get(key)
        if product is None:
            try:
                product = memo[key] = Product.from_mapping(dict(p), where="product_payload")
            except ValidationError:
                return None
        out.append(product)
    return out


def _texts(values: np.ndarray) -> list[str] | None:
    """`check_text` of every value (done once per distinct value), or None if any would fail."""
    codes, uniq = pd.factorize(values)
    uniq = uniq.tolist() if isinstance(uniq, np.ndarray) else list(uniq)
    if (codes < 0).any() or not all(type(u) is str for u in uniq):
        return None
    try:
        "\x1f".join(uniq).encode("utf-8")  # a lone surrogate anywhere fails the whole chunk
    except UnicodeEncodeError:
        return None
    stripped = [u.strip() for u in uniq]
    if not all(stripped) or any(len(u) > MAX_ID_CHARS for u in uniq):
        return None
    return [stripped[c] for c in codes.tolist()]
