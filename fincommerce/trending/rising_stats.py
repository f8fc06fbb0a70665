"""The statistics of "rising now": one test per product, shared by the live index, the reference and backtests.

Per product, with counts in a recent window of T seconds and a forward-decayed baseline before it:
    baseline rate λ ~ Gamma(a, b),  a = L + a0,  b = E + b0   (L: decayed baseline events, E: decayed exposure)
    prior (empirical Bayes): a0 = λ_cat · b0, b0 = prior_seconds   (λ_cat: the pooled rate of the products in view)
    recent count N | λ ~ Poisson(g λ T)  ⇒  N ~ NegBinomial(a, b / (b + g T))  (the baseline's uncertainty kept)
    g: the traffic factor, the other products' recent events ÷ what their pooled baseline rate expects, at least 1
       (a quiet night does not lower the bar; 1 when not adjusted)
    p = P(N ≥ n);  Benjamini–Hochberg over the products that passed the minimum-count gate.
The shrinkage keeps a product seen twice from looking "infinitely" hot, and the negative binomial (rather than
Poisson at the point estimate) keeps a short baseline from producing tiny p-values. The traffic factor asks
"rising faster than the store": a night-to-morning surge of every product is not a list of risers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import betainc

LN2 = math.log(2.0)


def decayed_exposure(span_seconds: float, half_life_seconds: float) -> float:
    """∫ 2^(−a/h) da over a ∈ [0, span]: what a constant rate of 1/s adds to a forward-decay sum."""
    return half_life_seconds / LN2 * -math.expm1(-LN2 * max(span_seconds, 0.0) / half_life_seconds)


@dataclass(frozen=True)
class RisingTest:
    """Per-product arrays of one evaluation (aligned with the products tested)."""

    recent: np.ndarray  # events in the recent window
    weighted_recent: np.ndarray  # the same events decayed with the short half-life
    baseline_events: np.ndarray  # events in the baseline span (before the recent window)
    rate: np.ndarray  # posterior mean baseline rate, events per second
    expected: np.ndarray  # expected events in the recent window at that rate
    uptick: np.ndarray  # short-decayed recent rate ÷ baseline rate
    p_value: np.ndarray
    q_value: np.ndarray  # Benjamini–Hochberg adjusted
    prior_rate: float  # the pooled rate shrunk toward, events per second
    traffic: np.ndarray  # the traffic factor g each product's expectation was scaled by


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted q-values (monotone, capped at 1): reject where q ≤ α controls the false discovery rate."""
    m = len(p)
    if m == 0:
        return np.zeros(0)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


def rising_test(recent: np.ndarray, weighted_recent: np.ndarray, baseline_decayed: np.ndarray,
                baseline_events: np.ndarray, exposure: float, prior_rate: float, prior_seconds: float,
                timeframe: float, short_half_life: float, traffic: np.ndarray | float = 1.0) -> RisingTest:
    """The negative-binomial test of each product's recent count against its shrunk baseline rate."""
    a = baseline_decayed + prior_rate * prior_seconds
    b = exposure + prior_seconds
    rate = a / b * traffic
    expected = rate * timeframe
    gt = traffic * timeframe
    with np.errstate(divide="ignore", invalid="ignore"):
        # P(N ≥ n) for N ~ NB(a, b/(b+gT)) is the regularised incomplete beta I_{gT/(b+gT)}(n, a): one ufunc call.
        p = np.where(recent > 0, betainc(np.maximum(recent, 1), np.maximum(a, 1e-300), gt / (b + gt)), 1.0)
        short_rate = weighted_recent / decayed_exposure(timeframe, short_half_life)
        uptick = np.where(rate > 0, short_rate / rate, np.inf)
    return RisingTest(recent, weighted_recent, baseline_events, rate, expected, uptick, p,
                      benjamini_hochberg(p), prior_rate, np.broadcast_to(np.asarray(traffic, float), p.shape))


def rising_rows(product_ids: list[str], test: RisingTest, alpha: float, top_k: int) -> list[dict]:
    """The significant products (q ≤ alpha), smallest p first, ties by larger uptick then id."""
    keep = np.flatnonzero(test.q_value <= alpha)
    if len(keep) > top_k:  # ties at the k-th p-value stay in, so the order below decides them
        keep = keep[test.p_value[keep] <= np.partition(test.p_value[keep], top_k - 1)[top_k - 1]]
    keep = sorted(keep.tolist(), key=lambda i: (test.p_value[i], -test.uptick[i], product_ids[i]))[:top_k]
    return [{
        "product_id": product_ids[i],
        "recent_events": int(test.recent[i]),
        "weighted_recent": float(test.weighted_recent[i]),
        "baseline_events": int(round(float(test.baseline_events[i]))),
        "baseline_rate_per_hour": float(test.rate[i] * 3600),
        "expected_events": float(test.expected[i]),
        "uptick_ratio": float(test.uptick[i]),
        "p_value": float(test.p_value[i]),
        "q_value": float(test.q_value[i]),
    } for i in keep]


def explain(row: dict, timeframe_hours: float, prior_per_hour: float) -> str:
    """The debug line: the counts behind a flag and what they were tested against."""
    return (f"{row['product_id']}: {row['recent_events']} events in the last {timeframe_hours:g} h vs "
            f"{row['expected_events']:.2f} expected from its baseline ({row['baseline_events']} events before, "
            f"{row['baseline_rate_per_hour']:.3g}/h after shrinking toward the pooled {prior_per_hour:.3g}/h and "
            f"scaling by the store's traffic); "
            f"uptick {row['uptick_ratio']:.1f}x, p={row['p_value']:.2g}, BH q={row['q_value']:.2g}")
