"""A seeded synthetic catalogue: realistic, reproducible products for demos and tests without shipping data."""
from __future__ import annotations

import numpy as np
import pandas as pd

from fincommerce.catalog.io import catalog_frame
from fincommerce.catalog.vocabulary import ADJECTIVES, FINISHES, SPEC
from fincommerce.errors import ValidationError


def _brands(spec: str) -> list[tuple[str, list[str]]]:
    pairs = (part.split(":", 1) for part in spec.split(";"))
    return [(brand.strip(), [m.strip() for m in models.split(",")]) for brand, models in pairs]


def _lower_noun(noun: str) -> str:
    """Lower-case a noun for mid-sentence use while keeping acronyms such as GPS intact."""
    return " ".join(w if w.isupper() else w.lower() for w in noun.split())


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _ragged(groups: list[list[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Flatten ragged vocabularies so per-row picks vectorise as offset + scaled uniform."""
    lens = np.array([len(g) for g in groups], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    return [v for g in groups for v in g], offsets, lens


def _pick(rng: np.random.Generator, group: np.ndarray, offsets: np.ndarray, lens: np.ndarray) -> np.ndarray:
    return offsets[group] + (rng.random(group.size) * lens[group]).astype(np.int64)




def generate_catalog(n_products: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Generate a reproducible catalogue; every draw comes from one seeded Generator, in fixed order."""
    if isinstance(n_products, bool) or not isinstance(n_products, (int, np.integer)) or n_products < 1:
        raise ValidationError("n_products", "a positive integer", n_products)
    n = int(n_products)
    rng = np.random.default_rng(seed)
    tops = list(SPEC)
    cat_params = np.array([SPEC[t][:4] for t in tops], dtype=np.float64)
    subs = [(t, s, *spec) for t in tops for s, spec in SPEC[t][6].items()]
    sub_names, sub_off, sub_len = _ragged([list(SPEC[t][6]) for t in tops])
    nouns = [noun for _, _, noun, _, _, _ in subs]
    sub_factor = np.array([factor for _, _, _, factor, _, _ in subs])
    brand_lists = [_brands(spec) for *_, spec in subs]
    brand_names, brand_off, brand_len = _ragged([[b for b, _ in bl] for bl in brand_lists])
    models, model_off, model_len = _ragged([m for bl in brand_lists for _, m in bl])
    uses, use_off, use_len = _ragged([u.split("|") for *_, u, _ in subs])
    variants, var_off, var_len = _ragged([SPEC[t][4].split("|") for t in tops])
    features, feat_off, feat_len = _ragged([SPEC[t][5].split("|") for t in tops])

    cat = rng.integers(0, len(tops), size=n)
    sub = _pick(rng, cat, sub_off, sub_len)
    brand = _pick(rng, sub, brand_off, brand_len)
    model = _pick(rng, brand, model_off, model_len)
    variant = _pick(rng, cat, var_off, var_len)
    feature = _pick(rng, cat, feat_off, feat_len)
    use1 = _pick(rng, sub, use_off, use_len)
    shift = 1 + (rng.random(n) * (use_len[sub] - 1)).astype(np.int64)
    use2 = use_off[sub] + (use1 - use_off[sub] + shift) % use_len[sub]
    adjective = rng.integers(0, len(ADJECTIVES), size=n)
    template = rng.integers(0, 3, size=n)
    second = rng.random(n) < 0.6

    median, sigma, lo, hi = (cat_params[cat, k] for k in range(4))
    raw = np.clip(median * sub_factor[sub] * np.exp(sigma * rng.standard_normal(n)), lo, hi)
    charm = np.maximum(np.floor(raw) - 0.01, lo)  # retail-style .99 endings for prices above 10
    prices = np.round(np.where(raw >= 10, charm, raw), 2)

    lower_nouns = [_lower_noun(x) for x in nouns]
    width = max(5, len(str(n)))
    ids = [f"prod_{i:0{width}d}" for i in range(1, n + 1)]
    names, descriptions = [], []
    for b, m, v, s, f, u1, u2, a, t, two in zip(
            brand.tolist(), model.tolist(), variant.tolist(), sub.tolist(), feature.tolist(),
            use1.tolist(), use2.tolist(), adjective.tolist(), template.tolist(), second.tolist()):
        names.append(" ".join(p for p in (brand_names[b], models[m], variants[v], nouns[s]) if p))
        adj, noun = ADJECTIVES[a], lower_nouns[s]
        if t == 0:
            text = f"{adj} {noun} from {brand_names[b]} with {features[f]}, ideal for {uses[u1]}."
        elif t == 1:
            text = f"{_article(adj).title()} {adj.lower()} {noun} with {features[f]}, built for {uses[u1]}."
        else:
            text = f"The {models[m]} pairs {features[f]} with {_article(noun)} {noun} designed for {uses[u1]}."
        descriptions.append(text + (f" Also a great choice for {uses[u2]}." if two else ""))
    categories = [[tops[c], sub_names[s]] for c, s in zip(cat.tolist(), sub.tolist())]
    brands = [brand_names[b] for b in brand.tolist()]
    return catalog_frame(ids, distinct(names), brands, categories, prices, descriptions)


def distinct(names: list[str]) -> list[str]:
    """Tell repeated names apart the way shops do, by finish or edition: "… (Graphite)", "… (Edition 14)"."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        k = seen.get(name, 0)
        seen[name] = k + 1
        if k == 0:
            out.append(name)
        else:
            out.append(f"{name} ({FINISHES[k - 1]})" if k <= len(FINISHES) else f"{name} (Edition {k + 1})")
    return out
