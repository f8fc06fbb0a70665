"""The simulated world: personas, shoppers with hidden tastes, their look-alikes and the planted utility.

The planted utility is one weight per ranking signal (same names), applied to the *true* version of
each signal the ranker only sees through proxies: relevance to the query, price fit to the shopper's
real budget, brand taste, what look-alike shoppers (same persona, shared favourite brands) bought,
and the herd (what is trending). So a planted world can be compared with tuned weights directly.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fincommerce.errors import ValidationError
from fincommerce.schema import SIGNALS


@dataclass(frozen=True)
class Persona:
    name: str
    share: float
    budget_median: float
    brands: tuple[str, ...]
    queries: tuple[str, ...]


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "student",
        0.20,
        500,
        ("Lenovo", "Acer", "Xiaomi", "JBL", "O'Reilly", "Amazon"),
        (
            "laptop for students",
            "cheap laptop for coding",
            "budget phone",
            "wireless earbuds for studying",
            "programming book for beginners",
            "e-reader for textbooks",
        ),
    ),
    Persona(
        "professional",
        0.18,
        1800,
        ("Apple", "Dell", "Sony", "Bose", "Herman Miller", "Fujifilm"),
        (
            "laptop for machine learning",
            "business laptop for travel",
            "noise cancelling headphones for travel",
            "flagship phone with a great camera",
            "office chair for working from home",
            "mirrorless camera for travel",
        ),
    ),
    Persona(
        "gamer",
        0.16,
        1000,
        ("ASUS", "MSI", "Razer", "Logitech", "SteelSeries", "Sony"),
        (
            "gaming laptop with rtx graphics",
            "gaming headset with microphone",
            "mechanical gaming keyboard",
            "wireless gaming mouse",
            "game console",
            "gaming controller",
        ),
    ),
    Persona(
        "home_cook",
        0.14,
        250,
        ("KitchenAid", "Breville", "Ninja", "Le Creuset", "Lodge", "Ebury Press"),
        (
            "air fryer for quick dinners",
            "espresso coffee machine",
            "stand mixer for baking",
            "cast iron cookware",
            "cookbook for weeknight dinners",
            "blender for smoothies",
        ),
    ),
    Persona(
        "runner",
        0.12,
        250,
        ("Nike", "Garmin", "Asics", "Brooks", "Adidas", "Polar"),
        (
            "running shoes for marathon training",
            "gps running watch",
            "fitness tracker for sleep",
            "yoga mat",
            "hiking boots for trails",
            "training shoes for the gym",
        ),
    ),
    Persona(
        "parent",
        0.12,
        120,
        ("LEGO", "Fisher-Price", "Puffin", "VTech", "Hasbro", "Ravensburger"),
        (
            "building set for kids",
            "board game for family night",
            "children's picture book",
            "educational toys for toddlers",
            "kids tablet",
            "jigsaw puzzle",
        ),
    ),
    Persona(
        "beauty_lover",
        0.08,
        60,
        ("The Ordinary", "CeraVe", "Clinique", "La Roche-Posay", "Estée Lauder"),
        (
            "hydrating moisturiser for dry skin",
            "vitamin c serum",
            "gentle cleanser for sensitive skin",
            "long lasting foundation",
            "volumising mascara",
        ),
    ),
)

# The default planted utility: relevance, price fit and brand taste as before, plus a look-alike pull.
UTILITY: dict[str, float] = {"semantic": 2.0, "affordability": 1.5, "preference": 1.0, "collaborative": 0.6,
                             "popularity": 0.6}
NOISE = 0.35  # Gumbel noise scale of the utility
LOOKALIKES = 10  # look-alike shoppers per shopper
COLLAB_SATURATION = 2.0  # look-alike interaction weight at which the collaborative pull is full (1.0)


def check_utility(utility: Mapping[str, float] | None) -> dict[str, float]:
    """One finite weight ≥ 0 per signal (missing ones are 0); at least one positive."""
    if utility is None:
        return dict(UTILITY)
    if not isinstance(utility, Mapping) or set(utility) - set(SIGNALS):
        raise ValidationError("utility", f"a mapping of {', '.join(SIGNALS)} to weights", utility)
    out = {}
    for s in SIGNALS:
        v = utility.get(s, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
            raise ValidationError(f"utility.{s}", "a finite number >= 0", v)
        out[s] = float(v)
    if sum(out.values()) <= 0:
        raise ValidationError("utility", "at least one positive weight", dict(utility))
    return out


def planted_shares(utility: Mapping[str, float]) -> dict[str, float]:
    """The planted utility as ranking weights (summing to 1), to set beside tuned ones."""
    total = sum(utility.values())
    return {s: round(utility[s] / total, 4) for s in SIGNALS}


def world(shares: Mapping[str, float], strength: float | None = None) -> dict[str, float]:
    """A planted utility with the given shares and the default world's total strength."""
    total = sum(UTILITY.values()) if strength is None else strength
    s = check_utility(shares)
    norm = sum(s.values())
    return {k: round(total * v / norm, 6) for k, v in s.items()}


def make_users(rng: np.random.Generator, n_users: int, budget_scale: float = 1.0) -> pd.DataFrame:
    """Shoppers with hidden tastes; `budget_scale` < 1 makes every budget tighter than its persona's usual."""
    if isinstance(budget_scale, bool) or not isinstance(budget_scale, (int, float)) or not 0 < budget_scale < np.inf:
        raise ValidationError("budget_scale", "a finite number > 0", budget_scale)
    shares = np.array([p.share for p in PERSONAS])
    persona_idx = rng.choice(len(PERSONAS), size=n_users, p=shares / shares.sum())
    rows = []
    for u, pi in enumerate(persona_idx):
        p = PERSONAS[pi]
        liked = rng.choice(p.brands, size=min(3, len(p.brands)), replace=False)
        rows.append({"user_id": f"sim_user_{u:05d}", "persona": p.name,
                     "budget": float(budget_scale * p.budget_median * rng.lognormal(0, 0.35)),
                     "brands": {str(b).lower(): float(rng.uniform(0.5, 1.0)) for b in liked},
                     "activity": float(rng.gamma(2.0, 0.5))})
    return pd.DataFrame(rows)


def lookalikes(users: pd.DataFrame, k: int = LOOKALIKES) -> list[np.ndarray]:
    """Per shopper, the k others of the same persona sharing the most favourite brands (ties: nearest budget)."""
    out: list[np.ndarray] = []
    persona = users.persona.to_numpy()
    brands = [set(b) for b in users.brands]
    log_budget = np.log(users.budget.to_numpy())
    for u in range(len(users)):
        same = np.flatnonzero((persona == persona[u]) & (np.arange(len(users)) != u))
        shared = np.array([len(brands[u] & brands[v]) for v in same], dtype=np.float64)
        key = shared - 0.01 * np.abs(log_budget[same] - log_budget[u])
        out.append(same[np.argsort(-key, kind="stable")[:k]])
    return out


class LookalikeMemory:
    """The hidden collaborative truth: what each shopper's look-alikes clicked, carted and bought."""

    def __init__(self, neighbours: list[np.ndarray], grades: Mapping[str, float]) -> None:
        self.neighbours = neighbours
        self.grades = dict(grades)
        self.items: list[dict[str, float]] = [{} for _ in neighbours]

    def add(self, user: int, product_id: str, step: str) -> None:
        g = self.grades.get(step, 0.0)
        if g > self.items[user].get(product_id, 0.0):
            self.items[user][product_id] = g

    def pull(self, user: int, product_ids: list[str]) -> np.ndarray:
        total = np.zeros(len(product_ids))
        for v in self.neighbours[user]:
            items = self.items[v]
            if items:
                total += np.array([items.get(p, 0.0) for p in product_ids])
        return np.minimum(total / COLLAB_SATURATION, 1.0)
