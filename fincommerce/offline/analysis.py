"""What the notebooks report about an event table: volumes, funnel, trending curves, half-life overlap,
and how much popularity touches the catalogue and the searches. Each returns data; plots draw it."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from fincommerce.config import HOUR
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.trending.exact import raw_over_time, top_from_events
from fincommerce.trending.index import TrendingIndex
from fincommerce.workbench import Workbench

FUNNEL_STEPS = ("click", "add_to_cart", "purchase")


class ScannedLog(Protocol):
    """A log the engine scanned (`logs.report.ScanReport`): a report header needs its digest and time span,
    and its rows are never loaded to compute them."""

    t_min: float
    t_max: float

    @property
    def fingerprint(self) -> str: ...


def events_fingerprint(events: pd.DataFrame | ScannedLog) -> str:
    """12 hex digits identifying an event table, so two reports can be compared at a glance (a scanned log:
    the engine's own digest, which differs from a table's by design)."""
    if not isinstance(events, pd.DataFrame):
        return events.fingerprint
    columns = [c for c in ("event_id", "user_id", "product_id", "interaction_type", "timestamp") if c in events]
    canonical = events[columns].sort_values(columns).to_csv(index=False, float_format="%.3f")
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def table_fingerprint(table: pd.DataFrame) -> str:
    """12 hex digits of a results table at 10 significant digits: equal on two machines iff the report's
    figures are, without the last-bit noise no printed digit shows."""
    canonical = table.to_csv(index=False, float_format="%.10g")
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def volumes_per_day(events: pd.DataFrame) -> pd.DataFrame:
    """Events per UTC day and type."""
    table = events.assign(day=pd.to_datetime(events.timestamp, unit="s", utc=True).dt.date).pivot_table(
        index="day", columns="interaction_type", values="timestamp", aggfunc="count", fill_value=0)
    return table.reindex(columns=[t for t in INTERACTION_TYPES if t in table.columns])


def time_range(events: pd.DataFrame | ScannedLog) -> list[float]:
    """[oldest, newest] event time (unix seconds), for report headers."""
    if not isinstance(events, pd.DataFrame):
        return [float(events.t_min), float(events.t_max)]
    return [float(events.timestamp.min()), float(events.timestamp.max())] if len(events) else []


def readable_events(events: pd.DataFrame) -> pd.DataFrame:
    """Events as a reader wants them: times as UTC dates."""
    return events.assign(
        timestamp=pd.to_datetime(events.timestamp, unit="s", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
    )


def _type_counts(events: pd.DataFrame | pd.Series) -> pd.Series:
    """Events per interaction type; a Series is taken as those counts already (`logs.trends.type_counts`)."""
    return events if isinstance(events, pd.Series) else events.interaction_type.value_counts()


def funnel_table(events: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Events per step and the share of views that reached it, as percentages."""
    counts = _type_counts(events).reindex(INTERACTION_TYPES, fill_value=0)
    views = max(int(counts.get("view", 0)), 1)
    return pd.DataFrame({"events": counts, "per view": [f"{100 * c / views:.1f} %" for c in counts]})


def trending_table(wb: Workbench, rows: list[dict]) -> pd.DataFrame:
    """Trending rows with product names and readable times."""
    names = wb.get_products([r["product_id"] for r in rows])
    return _named_trending(rows, lambda pid: names.get(pid, {}).get("name", ""))


def _named_trending(rows: list[dict], name_of: Callable[[str], str]) -> pd.DataFrame:
    """One table shape for trending rows, whatever knows the products' names (the store or the log)."""
    return pd.DataFrame([{"product": name_of(r["product_id"]), "product_id": r["product_id"],
                          "popularity": round(r["weighted_popularity_score"], 3),
                          "interactions": r["total_interactions"],
                          "last interaction (UTC)": pd.Timestamp(r["last_interaction_timestamp"], unit="s")
                          .strftime("%Y-%m-%d %H:%M")} for r in rows],
                        columns=["product", "product_id", "popularity", "interactions", "last interaction (UTC)"])


def named_trending(rows: list[dict], names: Mapping[str, str]) -> pd.DataFrame:
    """`log_trending_table`'s shape for trending rows computed elsewhere (the log engine), `names` by product."""
    return _named_trending(rows, lambda pid: names.get(pid, ""))


def results_table(results: list[dict]) -> pd.DataFrame:
    """Search results with names and the five signals, rounded."""
    return pd.DataFrame([{"product": r["payload"].get("name", ""), "product_id": r["product_id"],
                          **{k: round(v, 3) for k, v in r.items() if k.endswith("_score")}} for r in results])


def funnel_rates(events: pd.DataFrame | pd.Series) -> dict[str, float]:
    """Each later step per view: click-through, add-to-cart and purchase rates."""
    counts = _type_counts(events)
    views = max(int(counts.get("view", 0)), 1)
    return {step: int(counts.get(step, 0)) / views for step in FUNNEL_STEPS}


def trending_curves(events: pd.DataFrame, product_ids: Sequence[str], times: np.ndarray,
                    index: TrendingIndex) -> pd.DataFrame:
    """Raw decayed popularity of each product at each of `times` (columns: product ids, index: UTC times)."""
    curves = {}
    for pid in product_ids:
        mine = events[events.product_id == pid]
        curves[pid] = raw_over_time(mine.timestamp.to_numpy(), mine.interaction_type.tolist(), times,
                                    index.weights, index.half_lives, index.window)
    return pd.DataFrame(curves, index=pd.to_datetime(times, unit="s", utc=True))


def half_life_overlap(events: pd.DataFrame, now: float, window_hours: float, half_lives: Sequence[float],
                      top_k: int, index: TrendingIndex) -> pd.DataFrame:
    """Share of each half-life's top-k list that another half-life's list also holds."""
    t = events.timestamp.to_numpy()
    pids, types = events.product_id.tolist(), events.interaction_type.tolist()
    tops = {h: {r["product_id"] for r in top_from_events(t, pids, types, None, now, window_hours * HOUR,
                                                          index.weights, np.full(len(INTERACTION_TYPES), h * HOUR),
                                                          top_k)}
            for h in half_lives}
    return top_overlap(tops)


def top_overlap(tops: Mapping[float, set[str]]) -> pd.DataFrame:
    """Share of each half-life's top list that another half-life's list also holds."""
    keys = list(tops)
    return pd.DataFrame([[len(tops[a] & tops[b]) / max(len(tops[a]), 1) for b in keys] for a in keys],
                        index=keys, columns=keys)


def popularity_effect(wb: Workbench, sessions: pd.DataFrame, n_searches: int, seed: int,
                      now: float) -> tuple[pd.DataFrame, dict[str, float | None]]:
    """Search a sample of the sessions' queries at `now`: the result rows and coverage statistics."""
    popularity = wb.popularity_scores(wb.catalog.ids(), now=now)
    sample = sessions.sample(min(n_searches, len(sessions)), random_state=seed) if len(sessions) else sessions
    rows = [dict(r, query=s.query) for s in sample.itertuples()
            for r in wb.search_products(s.user_id, s.query, 5, now=now)]
    scores = pd.DataFrame(rows)
    correlation = float(scores.popularity_score.corr(scores.final_score)) if len(scores) > 2 else float("nan")
    return scores, {
        "popularity_coverage": float(np.mean([v > 0 for v in popularity.values()])) if popularity else 0.0,
        "searches_boosted": float(scores.groupby("query").popularity_score.max().gt(0).mean()) if len(scores) else 0.0,
        "popularity_final_correlation": None if np.isnan(correlation) else correlation,
    }


def log_trending_table(events: pd.DataFrame, index: TrendingIndex, window_hours: float, top_k: int, now: float,
                       category: str = "") -> pd.DataFrame:
    """The trending table of an event log on its own clock, named from the log's columns (no store)."""
    categories = events["category"].astype(str).map(lambda c: [x for x in c.split(" > ") if x]).tolist()
    rows = top_from_events(events.timestamp.to_numpy(), events.product_id.astype(str).tolist(),
                           events.interaction_type.astype(str).tolist(), categories, now, window_hours * HOUR,
                           index.weights, index.half_lives, top_k, category or None)
    names = dict(zip(events.product_id.astype(str), events.name.astype(str)))
    return _named_trending(rows, lambda pid: names.get(pid, ""))


def log_popularity_coverage(events: pd.DataFrame, index: TrendingIndex, now: float) -> dict[str, float]:
    """Share of the log's products with popularity > 0 at `now` (searches need queries and a store: not here)."""
    rows = top_from_events(events.timestamp.to_numpy(), events.product_id.astype(str).tolist(),
                           events.interaction_type.astype(str).tolist(), None, now, index.window,
                           index.weights, index.half_lives, None)
    return {"popularity_coverage": len(rows) / max(events.product_id.nunique(), 1)}
