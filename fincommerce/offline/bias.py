"""Popularity bias of a ranking: what it does to the long tail, beside how accurate it is.

Definitions (every popularity is an item's interaction count as of the list's own cut time, so no list is
judged with counts from its future):
- ARP, average recommendation popularity: mean over lists of the mean popularity of the list's items
  (Abdollahpouri et al. 2019; Elliot's ARP).
- APLT, average percentage of long-tail items: mean over lists of the share of its items in the long tail.
  The short head is the fewest most-popular items that together hold 80 % of all interactions as of the cut
  (Elliot's split); every other catalogue item, never-seen ones included, is the tail.
- Gini index of exposure over the whole catalogue: 0 when every item is shown equally often, → 1 when one
  item takes every slot (RecBole's GiniIndex: Σ (2i − n − 1)·x_(i) / (n·Σx), x ascending, i from 1).
- Coverage@k: the share of the catalogue that appears in at least one list.
- Entropy: Shannon entropy (nats) of the exposure distribution over the items shown.
- NDCG@10 by target popularity tercile: the evaluated targets are split into thirds by their popularity at
  the cut (low, mid, high); a ranking that only serves the head scores well on "high" alone.
Confidence intervals resample lists (sessions or cut points) with replacement and recompute every metric.
Coverage, Gini and entropy are not means over lists: a resample holds fewer distinct lists, so their
intervals lean low (coverage's never exceeds the full value); read them as spread, the value as the figure.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

HEAD_SHARE = 0.8
TERCILES = ("low", "mid", "high")


def long_tail(counts: np.ndarray, head_share: float = HEAD_SHARE) -> np.ndarray:
    """Boolean mask of tail items: outside the fewest most-popular items holding `head_share` of interactions."""
    counts = np.asarray(counts, dtype=np.float64)
    tail = np.ones(len(counts), dtype=bool)
    total = counts.sum()
    if total <= 0:
        return tail
    order = np.argsort(-counts, kind="stable")
    n_head = int(np.searchsorted(np.cumsum(counts[order]), head_share * total - 1e-9 * total)) + 1
    tail[order[:n_head]] = False
    return tail


def gini(exposure: np.ndarray) -> float:
    """Gini index of non-negative exposure counts over the catalogue (0 = equal, → 1 = one item)."""
    x = np.sort(np.asarray(exposure, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * total))


def entropy(exposure: np.ndarray) -> float:
    p = np.asarray(exposure, dtype=np.float64)
    p = p[p > 0] / p.sum() if p.sum() > 0 else p[:0]
    return float(-(p * np.log(p)).sum())


def bias_metrics(lists: np.ndarray, popularity: np.ndarray, in_tail: np.ndarray, n_catalogue: int,
                 ndcg: np.ndarray | None = None, target_popularity: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of the module docstring for m ranked lists.

    lists (m, k) item indices into the catalogue (−1 pads a short list); popularity and in_tail (m, k) are
    each listed item's count and tail membership as of its list's cut; ndcg and target_popularity (m,) give
    the per-tercile NDCG when passed."""
    lists = np.asarray(lists)
    shown = lists >= 0
    per_list = np.maximum(shown.sum(1), 1)
    exposure = np.bincount(lists[shown], minlength=n_catalogue)
    out = {
        "ARP": float((np.where(shown, popularity, 0).sum(1) / per_list).mean()),
        "APLT": float((np.where(shown, in_tail, False).sum(1) / per_list).mean()),
        "gini": gini(exposure),
        "coverage": float((exposure > 0).sum() / n_catalogue),
        "entropy": entropy(exposure),
    }
    if ndcg is not None and target_popularity is not None:
        for name, members in zip(TERCILES, tercile_masks(np.asarray(target_popularity, dtype=np.float64))):
            out[f"ndcg {name} pop"] = float(np.asarray(ndcg)[members].mean()) if members.any() else float("nan")
    return out


def tercile_masks(values: np.ndarray) -> list[np.ndarray]:
    """Three masks splitting `values` into thirds by rank (ties keep their order), low to high."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    third = np.minimum(ranks * 3 // max(len(values), 1), 2)
    return [third == i for i in range(3)]


def bias_table(lists: np.ndarray, popularity: np.ndarray, in_tail: np.ndarray, n_catalogue: int,
               ndcg: np.ndarray | None = None, target_popularity: np.ndarray | None = None, *,
               n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """One row per metric: value, and a percentile bootstrap CI from resampling the lists."""
    point = bias_metrics(lists, popularity, in_tail, n_catalogue, ndcg, target_popularity)
    rng = np.random.default_rng(seed)
    m = len(lists)
    draws = []
    for _ in range(n_boot):
        i = rng.integers(0, m, m)
        draws.append(bias_metrics(lists[i], popularity[i], in_tail[i], n_catalogue,
                                  None if ndcg is None else np.asarray(ndcg)[i],
                                  None if target_popularity is None else np.asarray(target_popularity)[i]))
    boot = pd.DataFrame(draws)
    q = ((1 - level) / 2, (1 + level) / 2)
    return pd.DataFrame({"value": point, "ci_low": boot.quantile(q[0]), "ci_high": boot.quantile(q[1])})
