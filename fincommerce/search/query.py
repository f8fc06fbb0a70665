"""Query understanding: budget phrases, brand and category mentions; the rest is the semantic query."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Possessive quantifiers (*+, ++) never give characters back: parsing stays linear in the query's length
# ("under" followed by 16,000 spaces took 3.5 s with plain ones).
_NUM = r"\$?\s*+(\d[\d,]*+(?:\.\d++)?)(?:\s*+(k|K)\b)?"
_BETWEEN = re.compile(rf"\bbetween\s++{_NUM}\s++(?:and|to|-)\s++{_NUM}", re.I)
_MAX = re.compile(
    rf"(?:\b(?:under|below|less than|cheaper than|max(?:imum)?|up to|at most|within|budget(?: of)?)\s*+|<=?\s*+){_NUM}",
    re.I,
)
_AROUND = re.compile(rf"\b(?:around|about|approx(?:imately)?|roughly)\s++{_NUM}|~\s*+{_NUM}", re.I)
_WORDS = re.compile(r"[^\w&+-]+")
AROUND_TOLERANCE = 0.10


def _number(digits: str, k: str | None) -> float:
    value = float(digits.replace(",", ""))
    return value * 1000 if k else value


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    budget: float | None = None
    min_price: float | None = None
    brands: frozenset[str] = field(default_factory=frozenset)
    categories: frozenset[str] = field(default_factory=frozenset)


def parse_query(query: str, brands: Iterable[str] = (), categories: Iterable[str] = ()) -> ParsedQuery:
    """Budget: "under 1500", "below $2k", "< 1,500", "max 800", "budget 1500" → budget 1500 …;
    "between 500 and 800" → 500–800; "around 1000" → budget 1100 (±10 %).
    Brands and categories are matched as whole words, case-insensitively, and stay in the text."""
    text, budget, min_price = query, None, None
    if m := _BETWEEN.search(text):
        lo, hi = _number(m[1], m[2]), _number(m[3], m[4])
        min_price, budget = min(lo, hi), max(lo, hi)
        text = text[: m.start()] + text[m.end():]
    elif m := _MAX.search(text):
        budget = _number(m[1], m[2])
        text = text[: m.start()] + text[m.end():]
    elif m := _AROUND.search(text):
        digits, k = (m[1], m[2]) if m[1] else (m[3], m[4])
        centre = _number(digits, k)
        min_price, budget = centre * (1 - AROUND_TOLERANCE), centre * (1 + AROUND_TOLERANCE)
        text = text[: m.start()] + text[m.end():]
    text = re.sub(r"\s+", " ", text).strip(" ,.;-") or query.strip()
    lowered = " " + _WORDS.sub(" ", query.lower()) + " "
    found_brands = frozenset(b for b in brands if b and f" {b.lower()} " in lowered)
    found_cats = frozenset(c for c in categories if c and _mentions(lowered, c.lower()))
    return ParsedQuery(text, budget, min_price, found_brands, found_cats)


def _mentions(lowered: str, category: str) -> bool:
    """Whole-word match, also for the singular of a plural category ("laptop" → "Laptops")."""
    forms = {category}
    if category.endswith("s"):
        forms.add(category[:-1])
    return any(f" {form} " in lowered for form in forms)
