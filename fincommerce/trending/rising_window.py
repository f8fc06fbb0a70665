"""The recent window's per-product sums for "rising now", kept from one call to the next.

A live caller asks for the same timeframe again and again as `now` creeps forward, so the window's events
change by a few at each end. Per product we keep the count and two forward-decay sums against a landmark L,
Σ 2^((t − L)/h) for the short and the long half-life; events entering at the new end are added, events
leaving at the old start subtracted, and `now`'s decay is one factor per half-life. That replaces two
exponentials and three bincounts over every event of the window (28k at 1M events over 72 h) per call.

Exact as trending's sliding window is: a product whose count drops to 0 gets exact zeros, and the rest carry
rounding of about ε · 2^(T/h) per update. So the cache is used only while T/h_short ≤ MAX_SPAN_IN_HALF_LIVES,
it starts over once a window's worth of time has passed since it was built, and any event arriving inside
the summed window (a late one) throws it away.
"""
from __future__ import annotations

import numpy as np

from fincommerce.trending.decay import forward_weight

MAX_SPAN_IN_HALF_LIVES = 6.0
FEW = 256  # below this many events, np.add.at beats bincounts over every product


class RecentWindow:
    """Counts and landmark-relative decayed sums of the events in [now − timeframe, now], per product."""

    def __init__(self, timeframe: float, short: float, long: float) -> None:
        self.timeframe, self.short, self.long = timeframe, short, long
        self.usable = timeframe / short <= MAX_SPAN_IN_HALF_LIVES
        self.now: float | None = None  # the end of the summed window; None: nothing kept
        self.built = self.landmark = 0.0
        self.count = np.zeros(0, dtype=np.int64)
        self.short_sum, self.long_sum = np.zeros(0), np.zeros(0)

    def invalidate(self, t: np.ndarray | None = None) -> None:
        """Events arrived (None: the followed index started over): only events after the window keep it."""
        if self.now is not None and (t is None or (len(t) and float(t.min()) <= self.now)):
            self.now = None

    def sums(self, times: np.ndarray, products: np.ndarray, now: float, n_products: int,
             held_from: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(count, short-decayed sum, long-decayed sum) at `now` per product, from the time-sorted events
        (every event at or after `held_from` is among them)."""
        lo = now - self.timeframe
        if (not self.usable or self.now is None or now < self.now or lo > self.now
                or now - self.built > self.timeframe or self.now - self.timeframe < held_from):
            self._build(times, products, now, n_products)
        else:
            a, b = np.searchsorted(times, [self.now - self.timeframe, lo], side="left")
            self._apply(times[a:b], products[a:b], -1)
            a, b = np.searchsorted(times, [self.now, now], side="right")
            self._apply(times[a:b], products[a:b], +1)
            self.now = now
        self._grow(n_products)
        to_now = now - self.landmark
        return (self.count[:n_products], self.short_sum[:n_products] * float(np.exp2(-to_now / self.short)),
                self.long_sum[:n_products] * float(np.exp2(-to_now / self.long)))

    def _build(self, times: np.ndarray, products: np.ndarray, now: float, n_products: int) -> None:
        """From scratch. Kept for later calls: landmark at the window's start (terms ≤ 2^(2T/h)); a one-off
        (span too long to keep): landmark at `now`, each term exactly the event's decay factor."""
        lo = now - self.timeframe
        self.landmark, self.built, self.now = (lo if self.usable else now), now, now
        self.count = np.zeros(n_products, dtype=np.int64)
        self.short_sum, self.long_sum = np.zeros(n_products), np.zeros(n_products)
        a, b = np.searchsorted(times, lo, side="left"), np.searchsorted(times, now, side="right")
        self._apply(times[a:b], products[a:b], +1)

    def _grow(self, n_products: int) -> None:
        more = n_products - len(self.count)
        if more > 0:
            self.count = np.concatenate([self.count, np.zeros(more, dtype=np.int64)])
            self.short_sum = np.concatenate([self.short_sum, np.zeros(more)])
            self.long_sum = np.concatenate([self.long_sum, np.zeros(more)])

    def _apply(self, t: np.ndarray, p: np.ndarray, sign: int) -> None:
        if not len(t):
            return
        self._grow(int(p.max()) + 1)
        short, long = sign * forward_weight(t, self.landmark, self.short), sign * forward_weight(t, self.landmark,
                                                                                                  self.long)
        if len(t) < FEW:  # a live call's few arrivals: touch their products, not every product's sums
            np.add.at(self.count, p, sign)
            np.add.at(self.short_sum, p, short)
            np.add.at(self.long_sum, p, long)
        else:
            n = len(self.count)
            self.count += sign * np.bincount(p, minlength=n)
            self.short_sum += np.bincount(p, weights=short, minlength=n)
            self.long_sum += np.bincount(p, weights=long, minlength=n)
        if sign < 0:  # what rounding left of a product's last event goes, so an empty product is exactly 0
            gone = p[self.count[p] == 0]
            self.short_sum[gone], self.long_sum[gone] = 0.0, 0.0
