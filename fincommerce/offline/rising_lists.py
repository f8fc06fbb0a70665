"""The rising list of a real log at chosen moments (what a merchandiser would have seen), and the curves of
the products on it: the live `RisingIndex`, fed the log in time order up to each moment."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fincommerce.config import HOUR
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.trending import TrendingIndex
from fincommerce.trending.rising import RisingIndex, RisingSettings, check_request
from fincommerce.trending.rising_stats import rising_rows


def at_clock_times(events: pd.DataFrame, clock_times: Sequence[str]) -> list[float]:
    """"HH:MM" on the log's first day (UTC) → unix seconds; a time outside the log is an error naming it."""
    first = datetime.fromtimestamp(float(events["timestamp"].min()), UTC)
    out = []
    for hhmm in clock_times:
        hour, minute = (int(x) for x in str(hhmm).split(":"))
        t = first.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()
        if not events["timestamp"].min() < t <= events["timestamp"].max() + 60:
            raise ValueError(f"october_times: {hhmm} is outside the log ({first:%Y-%m-%d %H:%M} UTC onwards)")
        out.append(t)
    return out


def rising_lists(events: pd.DataFrame, times: Sequence[float], settings: RisingSettings, timeframe_hours: float,
                 min_events: int, top_k: int) -> pd.DataFrame:
    """One row per (moment, riser), most significant first, with the product's name when the log has one."""
    timeframe = check_request(settings, timeframe_hours, top_k, min_events, None)
    ev = events.sort_values("timestamp", kind="stable")
    t, pids = ev["timestamp"].to_numpy(np.float64), ev["product_id"].astype(str).tolist()
    names = dict(zip(pids, ev["name"].astype(str))) if "name" in ev else {}
    trending = TrendingIndex({k: 1.0 for k in INTERACTION_TYPES},
                             {k: settings.short_half_life_hours * HOUR for k in INTERACTION_TYPES},
                             settings.baseline_hours * HOUR)
    rising = RisingIndex.following(trending, settings)
    rows, done = [], 0
    for now in sorted(times):
        upto = int(np.searchsorted(t, now, side="right"))
        trending.add(t[done:upto], pids[done:upto], ["view"] * (upto - done))
        done = upto
        products, test = rising.test(now, timeframe, None, min_events)
        for rank, r in enumerate(rising_rows(products, test, settings.alpha, top_k), 1):
            rows.append({"at": datetime.fromtimestamp(now, UTC).strftime("%H:%M"), "rank": rank,
                         "name": names.get(r["product_id"], ""), **r})
    return pd.DataFrame(rows)


def curves(events: pd.DataFrame, product_ids: Sequence[str], bin_minutes: float) -> pd.DataFrame:
    """Events per product per bin (index: bin start, UTC), for the risers' curves."""
    ev = events[events["product_id"].astype(str).isin([str(p) for p in product_ids])]
    bins = pd.to_datetime((ev["timestamp"] // (bin_minutes * 60) * bin_minutes * 60).to_numpy(), unit="s", utc=True)
    table = pd.crosstab(bins, ev["product_id"].astype(str))
    full = pd.date_range(table.index.min(), table.index.max(), freq=f"{bin_minutes:g}min") if len(table) else []
    return table.reindex(full, fill_value=0)
