"""03's trend tables with the log left in the engine: the top products as of a time, event counts per
type and per hour, and the few products a curve plot needs — each a small pandas table."""
from __future__ import annotations

import math
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from fincommerce.logs.cuts import TYPE_CODE
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.importers import product_from_log


def _in_category(events: ir.Table, category: str, rees46: bool) -> ir.BooleanValue:
    """`category` among the event's category path, case-insensitively, as `top_from_events` matches it
    (REES46 codes are dotted, with `_` for spaces; our own logs join levels with " > ")."""
    key = category.lower()
    if rees46:
        return events.category.lower().replace("_", " ").split(".").contains(key)
    return events.category.lower().split(" > ").contains(key)


def first_attributes(events: ir.Table) -> ir.Table:
    """Per product, the brand, category and category id of its first row (file order): what the REES46
    reader gives every event of the product."""
    first_file = events.group_by("product_id").aggregate(first=_.file.min())
    mine = events.join(first_file, [events.product_id == first_file.product_id, events.file == first_file.first])
    return mine.group_by("product_id").aggregate(brand=mine.brand.argmin(mine.row),
                                                 category=mine.category.argmin(mine.row),
                                                 category_id=mine.category_id.argmin(mine.row))


def top_trending(events: ir.Table, now: float, timeframe: float, weights: np.ndarray, half_lives: np.ndarray,
                 top_k: int | None, category: str = "", rees46: bool = False) -> list[dict]:
    """`trending.exact.top_from_events` rows (same keys, order and normalisation) computed by the engine."""
    ev = events.filter((events.timestamp >= now - timeframe) & (events.timestamp <= now))
    if category and rees46:
        attrs = first_attributes(events)
        ev = ev.filter(ev.product_id.isin(attrs.filter(_in_category(attrs, category, True)).product_id))
    elif category:
        ev = ev.filter(_in_category(ev, category, False))
    per = ev.mutate(c=_decayed(ev, now, weights, half_lives)).group_by("product_id").aggregate(
        raw=_.c.sum(), count=_.count(), last=_.timestamp.max())
    peak = per.raw.max().as_scalar()
    ranked = per.mutate(peak=peak).order_by([ibis.desc("raw"), "product_id"])
    rows = (ranked.limit(top_k) if top_k is not None else ranked).to_pandas()
    return [{"product_id": str(r.product_id), "total_interactions": int(r.count),
             "weighted_popularity_score": float(r.raw / r.peak) if r.peak > 0 else 0.0,
             "last_interaction_timestamp": float(r.last), "raw_score": float(r.raw)} for r in rows.itertuples()]


def _decayed(ev: ir.Table, now: float, weights: np.ndarray, half_lives: np.ndarray) -> ir.FloatingValue:
    """An event's weighted, decayed score at `now` (its type's weight and half-life in seconds; inf: no decay)."""
    code = ev.interaction_type.substitute(TYPE_CODE, else_=ibis.null("int8"))
    terms = [ibis.ifelse(code == k, float(weights[k]) * (ibis.literal(1.0) if not math.isfinite(half_lives[k])
                                                          else ibis.literal(2.0).pow(-(now - ev.timestamp)
                                                                                     / float(half_lives[k]))), 0.0)
             for k in range(len(INTERACTION_TYPES))]
    return sum(terms[1:], terms[0])


def type_counts(events: ir.Table) -> pd.Series:
    """Events per interaction type (our four, zeros included)."""
    got = events.group_by("interaction_type").aggregate(n=_.count()).to_pandas()
    return got.set_index("interaction_type").n.reindex(INTERACTION_TYPES, fill_value=0).astype(int)


def hourly_counts(events: ir.Table) -> pd.Series:
    """Events per UTC hour (unix seconds of the hour's start)."""
    hour = (events.timestamp / 3600).floor().cast("int64") * 3600
    got = events.group_by(hour.name("hour")).aggregate(n=_.count()).order_by("hour").to_pandas()
    return got.set_index("hour").n


def events_of(events: ir.Table, product_ids: Sequence[str]) -> pd.DataFrame:
    """The events of a few products (a curve plot's), as pandas, in time order."""
    ev = events.filter(events.product_id.isin(list(product_ids)))
    return ev.select("product_id", "interaction_type", "timestamp", "name", "brand", "category") \
        .order_by("timestamp").to_pandas()


def hour_of_day_counts(events: ir.Table) -> pd.DataFrame:
    """Events per UTC hour of day (rows 0–23) and interaction type (columns), as `plots.volume_by_hour` draws them."""
    hour = ((events.timestamp / 3600).floor().cast("int64") % 24).name("hour")
    got = events.group_by([hour, events.interaction_type]).aggregate(n=_.count()).to_pandas()
    return got.pivot_table(index="hour", columns="interaction_type", values="n", aggfunc="sum", fill_value=0) \
        .reindex(index=range(24), fill_value=0)


def half_life_tops(events: ir.Table, now: float, timeframe: float, weights: np.ndarray,
                   half_lives_hours: Sequence[float], top_k: int) -> dict[float, set[str]]:
    """Each half-life's (hours, every type alike) top-k products, as `analysis.half_life_overlap` ranks them
    (`top_trending`'s order: score descending, then product id); one pass over the window for all of them."""
    ev = events.filter((events.timestamp >= now - timeframe) & (events.timestamp <= now))
    sums = {f"h{i}": _decayed(ev, now, weights, np.full(len(INTERACTION_TYPES), h * 3600.0)).sum()
            for i, h in enumerate(half_lives_hours)}
    per = ev.group_by("product_id").aggregate(**sums).to_pandas().sort_values("product_id")
    return {h: set(per.sort_values(f"h{i}", ascending=False, kind="stable").product_id.head(top_k).astype(str))
            for i, h in enumerate(half_lives_hours)}


def product_names(events: ir.Table, product_ids: Sequence[str], rees46: bool) -> dict[str, str]:
    """The names a trend table shows, as the pandas reader gives them: REES46's "<Brand> <kind>" from the
    product's first row; otherwise the name on its newest row (time, then file order)."""
    if rees46:
        attrs = first_attributes(events.filter(events.product_id.isin(list(product_ids)))).to_pandas()
        return {p: product_from_log({"product_id": p, "price": 0.0, "brand": b, "category_code": c,
                                     "category_id": i})["name"]
                for p, b, c, i in zip(attrs.product_id, attrs.brand, attrs.category, attrs.category_id, strict=True)}
    rows = events.filter(events.product_id.isin(list(product_ids))).select("product_id", "name", "timestamp",
                                                                            "file", "row").to_pandas()
    rows = rows.sort_values(["timestamp", "file", "row"], kind="stable")
    return dict(zip(rows.product_id.astype(str), rows.name.astype(str), strict=True))
