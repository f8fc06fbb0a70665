"""Domain types shared by every module: interaction types, signals, payload keys, products, interactions."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from fincommerce.errors import ValidationError

InteractionType = Literal["view", "click", "add_to_cart", "purchase"]
INTERACTION_TYPES: Final[tuple[str, ...]] = get_args(InteractionType)
INTERACTION_WEIGHTS: Final[dict[str, float]] = {
    "view": 0.1,
    "click": 0.3,
    "add_to_cart": 0.6,
    "purchase": 1.0,
}
SIGNALS: Final[tuple[str, ...]] = (
    "semantic",
    "affordability",
    "preference",
    "collaborative",
    "popularity",
)


# Payload keys of the two collections (as `recommenders.utils.constants` names its columns).
PRODUCT_ID: Final = "product_id"
EVENT_ID: Final = "event_id"
USER_ID: Final = "user_id"
INTERACTION_TYPE: Final = "interaction_type"
TIMESTAMP: Final = "timestamp"
BRAND: Final = "brand"
CATEGORY: Final = "category"
CATEGORIES: Final = "categories"
PRICE: Final = "price"


def check_finite(field_name: str, value: Any, *, minimum: float | None = None) -> float:
    """Return `value` as a float, or raise naming the field (bools and NaN are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars, numeric strings from CSVs
        except (TypeError, ValueError):
            raise ValidationError(field_name, "a finite number", value) from None
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError(field_name, "a finite number", value)
    if minimum is not None and value < minimum:
        raise ValidationError(field_name, f"a number >= {minimum:g}", value)
    return value


# Documented length limits (characters): far above real data, far below what slows the model or the store.
MAX_ID_CHARS = 200  # product, user and event ids
MAX_NAME_CHARS = 500  # product names, brands, categories
MAX_QUERY_CHARS = 1000  # search queries (the model reads ~256 tokens anyway)
MAX_DESCRIPTION_CHARS = 5000


def check_string(field_name: str, value: Any, max_chars: int, *, required: bool = False) -> str:
    """A stripped string of at most `max_chars` that UTF-8 can encode (no lone surrogates), or raise."""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError(field_name, "a non-empty string" if required else "a string", value)
    if len(value) > max_chars:
        raise ValidationError(field_name, f"at most {max_chars:,} characters", f"{len(value):,} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field_name, "valid Unicode text (no lone surrogates)", value) from None
    return value.strip()


def check_text(field_name: str, value: Any, max_chars: int = MAX_ID_CHARS) -> str:
    """Return a non-empty, stripped string or raise naming the field."""
    return check_string(field_name, value, max_chars, required=True)


@dataclass(frozen=True)
class Product:
    """A catalogue item; `id` is the shop's own string id (e.g. "prod_123")."""

    id: str
    name: str
    brand: str = ""
    categories: tuple[str, ...] = ()
    price: float = 0.0
    description: str = ""

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, where: str = "product") -> Product:
        """Validate a dict (catalogue row or seed-style payload) into a Product."""
        if not isinstance(data, dict):
            raise ValidationError(where, "a dict with id, name, price", data)
        pid = data.get("id", data.get("product_id"))
        if isinstance(pid, int) and not isinstance(pid, bool):
            pid = str(pid)
        pid = check_text(f"{where}.id", pid)
        name = check_string(f"{where}.name", data.get("name") or pid, MAX_NAME_CHARS)
        brand = check_string(f"{where}.brand", data.get("brand") or "", MAX_NAME_CHARS)
        categories = data.get("categories")
        if categories is None:
            categories = [data["category"]] if data.get("category") else []
        if isinstance(categories, str):
            categories = [categories]
        if not isinstance(categories, (list, tuple)) or not all(isinstance(c, str) for c in categories):
            raise ValidationError(f"{where}.categories", "a list of strings", categories)
        categories = [check_string(f"{where}.categories[{i}]", c, MAX_NAME_CHARS) for i, c in enumerate(categories)]
        price = data.get("price", 0.0)
        price = check_finite(f"{where}.price", price, minimum=0.0)
        description = check_string(f"{where}.description", data.get("description") or "", MAX_DESCRIPTION_CHARS)
        return cls(pid, name.strip(), brand.strip(), tuple(c.strip() for c in categories if c.strip()),
                   price, description)

    def payload(self) -> dict[str, Any]:
        """The store payload; `category` (top level) is kept separately for filtering."""
        return {
            "product_id": self.id,
            "name": self.name,
            "brand": self.brand,
            "categories": list(self.categories),
            "category": self.categories[0] if self.categories else "",
            "price": self.price,
            "description": self.description,
        }

    def text(self) -> str:
        """What the embedder reads for semantic search."""
        parts = [self.name, self.brand, " > ".join(self.categories), self.description]
        return ". ".join(p for p in parts if p)


@dataclass(frozen=True)
class Interaction:
    """One logged event: `payload()` is what `EventLog.table()` and `get()` give back. The store keeps an event
    as its own keys plus a key of the facts it shares with other events (`fincommerce.store.event_facts`)."""

    event_id: str
    user_id: str
    product_id: str
    interaction_type: str
    weight: float
    timestamp: float
    query: str = ""
    product_name: str = ""
    brand: str = ""
    categories: tuple[str, ...] = field(default_factory=tuple)
    price: float = 0.0

    def payload(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "user_id": self.user_id,
            "product_id": self.product_id,
            "interaction_type": self.interaction_type,
            "weight": self.weight,
            "timestamp": self.timestamp,
            "query": self.query,
            "product_name": self.product_name,
            "brand": self.brand,
            "categories": list(self.categories),
            "price": self.price,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Interaction:
        return cls(
            event_id=p["event_id"], user_id=p["user_id"], product_id=p["product_id"],
            interaction_type=p["interaction_type"], weight=float(p["weight"]),
            timestamp=float(p["timestamp"]), query=p.get("query", ""),
            product_name=p.get("product_name", ""), brand=p.get("brand", ""),
            categories=tuple(p.get("categories") or ()), price=float(p.get("price", 0.0)),
        )
