"""Rising now: products whose recent rate is significantly above their own baseline (the test: `rising_stats`).

The index follows the trending index (it sees every event trending retains, in any order) and keeps its own
count-only forward-decay accumulators with the long half-life, bucketed exactly like trending's. A call costs
the recent window's events (counts and short-decayed sums, O(events in the timeframe)), one read of the long
accumulators and the negative-binomial test of the products past the minimum-count gate; nothing is rescanned.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from fincommerce.config import HOUR
from fincommerce.errors import ValidationError
from fincommerce.schema import INTERACTION_TYPES, check_finite
from fincommerce.trending.index import TrendingIndex
from fincommerce.trending.rising_stats import RisingTest, decayed_exposure, explain, rising_rows, rising_test
from fincommerce.trending.rising_window import RecentWindow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RisingSettings:
    """Half-lives and the prior, in hours; `alpha` is the false discovery rate Benjamini–Hochberg controls."""

    short_half_life_hours: float = 1.0
    long_half_life_hours: float = 24.0
    baseline_hours: float = 48.0  # how far back the baseline reaches (at most what trending retains)
    prior_hours: float = 24.0  # the weight of the pooled rate, as hours of the product's own exposure
    traffic_adjusted: bool = True  # expect each product to move with the whole store's recent traffic
    alpha: float = 0.01  # measured in notebook 06: 0.05 doubles the false alarms on the November log


class RisingIndex:
    """Follows a TrendingIndex: count-only accumulators (long half-life) over the baseline span."""

    def __init__(self, settings: RisingSettings = RisingSettings()) -> None:
        self.settings = settings
        ones = {t: 1.0 for t in INTERACTION_TYPES}
        long = {t: settings.long_half_life_hours * HOUR for t in INTERACTION_TYPES}
        self.counts = TrendingIndex(ones, long, settings.baseline_hours * HOUR)
        self.oldest = math.inf  # the first event seen since the last reset: where the baseline's exposure starts
        self.complete_from = -math.inf  # the followed index drops events before this: no baseline may start earlier
        self.window: RecentWindow | None = None  # the last timeframe's sums, carried to the next call
        self._ids = np.zeros(0, dtype=object)

    @classmethod
    def following(cls, source: TrendingIndex, settings: RisingSettings = RisingSettings()) -> RisingIndex:
        """An index fed by every event `source` keeps, from what it already holds on."""
        rising = cls(settings)
        rising.follow(source, None, None)
        source.followers.append(rising.follow)
        return rising

    def follow(self, source: TrendingIndex, t: np.ndarray | None, p: np.ndarray | None) -> None:
        """The trending index's hook: new events (t, product indices), or (None, None) to start over from it."""
        self.complete_from = source.retain_from
        with self.counts._lock:  # the lock `test` holds: no call sees the events without the window knowing
            if self.window is not None:
                self.window.invalidate(t)
            if t is None or p is None:
                self._ids = np.zeros(0, dtype=object)
                self.counts.reset()
                self.oldest = math.inf
                t, p = source._t.view(), source._p.view()
            if len(t):
                self.oldest = min(self.oldest, float(t.min()))
                self.counts.add(t, [source.product_ids[i] for i in p.tolist()], ["view"] * len(t),
                                [source._categories[i] for i in p.tolist()])

    def test(self, now: float, timeframe: float, category: str | None, min_events: int) -> tuple[list[str], RisingTest]:
        """The products in view with at least `min_events` recent events, and their tests."""
        s = self.settings
        short, long = s.short_half_life_hours * HOUR, s.long_half_life_hours * HOUR
        baseline = s.baseline_hours * HOUR
        idx = self.counts
        with idx._lock:
            if not idx.covers(now - baseline) or now - baseline < self.complete_from:
                raise ValidationError("now", f"a time whose {s.baseline_hours:g} h baseline is still held in memory "
                                      "(rising looks back at most one baseline before the newest event)", now)
            raw, count, _ = idx.scores(now, baseline)
            idx._ensure_sorted()
            times = idx._t.view()
            n_all = len(idx.product_ids)
            if self.window is None or self.window.timeframe != timeframe:
                self.window = RecentWindow(timeframe, short, long)
            count_recent, short_recent, long_recent = self.window.sums(times, idx._p.view(), now, n_all,
                                                                       idx.retain_from)
            prods = np.flatnonzero(count_recent)  # copied out under the lock: the next call updates the sums
            n, weighted, recent_long = count_recent[prods], short_recent[prods], long_recent[prods]
            mask = idx._mask(category, n_all)
        start = max(now - baseline, self.oldest)
        exposure = decayed_exposure(now - timeframe - start, long)
        if exposure <= 0:
            raise ValidationError("timeframe_hours", "a timeframe that leaves some log before it for the baseline "
                                  "(the log starts at or after the timeframe's start)", timeframe / HOUR)
        rebase = math.exp2(timeframe / long)  # from decayed at `now` to decayed at the window's start
        in_view = count > 0 if mask is None else (count > 0) & mask
        if not in_view.any():
            raise ValidationError("category", "a category with events in the baseline and timeframe", category)
        recent_in_view = in_view[prods]
        pooled = (raw[in_view].sum() - recent_long[recent_in_view].sum()) * rebase
        prior_rate = max(pooled, 0.0) / (int(in_view.sum()) * exposure)
        tested = recent_in_view & (n >= min_events)
        sel = prods[tested]
        baseline_decayed = np.maximum(raw[sel] - recent_long[tested], 0.0) * rebase
        traffic = np.ones(len(sel))
        if s.traffic_adjusted:  # leave-one-out: a product's own burst must not raise its own bar
            others = pooled - baseline_decayed
            with np.errstate(divide="ignore", invalid="ignore"):
                g = (float(n[recent_in_view].sum()) - n[tested]) / timeframe / (others / exposure)
            traffic = np.where(others > 0, np.maximum(g, 1.0), 1.0)
        result = rising_test(n[tested], weighted[tested], baseline_decayed, count[sel] - n[tested], exposure,
                             prior_rate, s.prior_hours * HOUR, timeframe, short, traffic)
        if len(self._ids) != len(idx.product_ids):  # an object array: picking ids by index without a loop
            self._ids = np.array(idx.product_ids, dtype=object)
        return self._ids[sel].tolist(), result


def check_request(settings: RisingSettings, timeframe_hours: object, top_k: object, min_events: object,
                  category: object) -> float:
    """One clear error per bad argument; returns the timeframe in seconds."""
    hours = check_finite("timeframe_hours", timeframe_hours, minimum=0.0)
    if hours < settings.short_half_life_hours:
        raise ValidationError("timeframe_hours", f"at least the short half-life ({settings.short_half_life_hours:g} h)"
                              ": a shorter window cannot tell a rise from noise", timeframe_hours)
    if hours >= settings.baseline_hours:
        raise ValidationError("timeframe_hours", f"less than the baseline span ({settings.baseline_hours:g} h)",
                              timeframe_hours)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 100_000:
        raise ValidationError("top_k", "an integer between 1 and 100000", top_k)
    if isinstance(min_events, bool) or not isinstance(min_events, int) or min_events < 1:
        raise ValidationError("min_events", "an integer >= 1 (the fewest recent events worth testing)", min_events)
    if category is not None and (not isinstance(category, str) or not category.strip()):
        raise ValidationError("category", "a non-empty string or None", category)
    return hours * HOUR


def rising_top(index: RisingIndex, now: float, timeframe_hours: float, top_k: int, category: str | None,
               min_events: int, debug: bool = False) -> list[dict]:
    """The significant risers, most significant first; `debug` logs the counts and the test behind each."""
    timeframe = check_request(index.settings, timeframe_hours, top_k, min_events, category)
    products, test = index.test(now, timeframe, category, min_events)
    rows = rising_rows(products, test, index.settings.alpha, top_k)
    if debug:
        log.info("📈 Rising now (last %g h, %d products with >= %d events tested, BH at %g): %d significant",
                 timeframe_hours, len(products), min_events, index.settings.alpha, len(rows))
        for r in rows:
            log.info("  %s", explain(r, float(timeframe_hours), test.prior_rate * HOUR))
    return rows

