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
Confidence intervals resample lists (sessions or cut points) with replacement, for the metrics that are
means over lists (ARP, APLT, NDCG by tercile). Gini, coverage and entropy get none: a resample repeats some
lists and drops others, so it always shows fewer distinct items, and its percentile interval can miss the
value itself (coverage 0.192 gave [0.172, 0.177] on a test set); an interval that cannot hold its own
estimate would mislead more than a point value does.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def gini(exposure: np.ndarray, n: int | None = None) -> float:
    """Gini index of non-negative exposure counts over a catalogue of `n` items (0 = equal, → 1 = one item);
    items missing from `exposure` count as never shown, so only the shown items need passing."""
    x = np.sort(np.asarray(exposure, dtype=np.float64))
    n = len(x) if n is None else n
    total = x.sum()
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(n - len(x) + 1, n + 1)  # the never-shown items take the first (zero) ranks
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def entropy(exposure: np.ndarray) -> float:
    p = np.asarray(exposure, dtype=np.float64)
    p = p[p > 0] / p.sum() if p.sum() > 0 else p[:0]
    return float(-(p * np.log(p)).sum())


def _per_list(lists: np.ndarray, popularity: np.ndarray, in_tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each list's mean popularity and tail share (m,) and (m,)."""
    shown = lists >= 0
    n = np.maximum(shown.sum(1), 1)
    return np.where(shown, popularity, 0).sum(1) / n, np.where(shown, in_tail, False).sum(1) / n


def _exposure(shown_counts: np.ndarray, n_catalogue: int) -> dict[str, float]:
    x = shown_counts[shown_counts > 0]
    return {"gini": gini(x, n_catalogue), "coverage": float(len(x) / n_catalogue), "entropy": entropy(x)}


def bias_metrics(lists: np.ndarray, popularity: np.ndarray, in_tail: np.ndarray, n_catalogue: int,
                 ndcg: np.ndarray | None = None, target_popularity: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of the module docstring for m ranked lists.

    lists (m, k) item indices into the catalogue (−1 pads a short list); popularity and in_tail (m, k) are
    each listed item's count and tail membership as of its list's cut; ndcg and target_popularity (m,) give
    the per-tercile NDCG when passed."""
    lists = np.asarray(lists)
    arp, aplt = _per_list(lists, popularity, in_tail)
    out = {"ARP": float(arp.mean()), "APLT": float(aplt.mean()),
           **_exposure(np.unique(lists[lists >= 0], return_counts=True)[1], n_catalogue)}
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
    """One row per metric: value, and for the means over lists a percentile bootstrap CI from resampling the
    lists (terciles are assigned once, on the full set); NaN bounds for the exposure metrics."""
    lists = np.asarray(lists)
    point = bias_metrics(lists, popularity, in_tail, n_catalogue, ndcg, target_popularity)
    m = len(lists)
    idx = np.random.default_rng(seed).integers(0, m, size=(n_boot, m))
    arp, aplt = _per_list(lists, popularity, in_tail)
    draws: dict[str, list[float] | np.ndarray] = {"ARP": arp[idx].mean(1), "APLT": aplt[idx].mean(1)}
    if ndcg is not None and target_popularity is not None:
        values = np.asarray(ndcg, dtype=np.float64)[idx]
        for name, members in zip(TERCILES, tercile_masks(np.asarray(target_popularity, dtype=np.float64))):
            inside = members[idx]
            draws[f"ndcg {name} pop"] = (values * inside).sum(1) / np.maximum(inside.sum(1), 1)
    boot = pd.DataFrame(draws).reindex(columns=list(point))  # exposure metrics: no interval (see above)
    q = ((1 - level) / 2, (1 + level) / 2)
    return pd.DataFrame({"value": point, "ci_low": boot.quantile(q[0]), "ci_high": boot.quantile(q[1])})


@dataclass
class Exposure:
    """What several rankers showed over the same m evaluations: lists (m, R, k) item indices (−1 pads), each
    listed item's popularity and tail membership as of its evaluation's cut, and the catalogue's size."""

    lists: np.ndarray
    popularity: np.ndarray
    in_tail: np.ndarray
    n_catalogue: int

    def table(self, names: Sequence[str], n_boot: int = 1000, seed: int = 0, ndcg: np.ndarray | None = None,
              target_popularity: np.ndarray | None = None) -> pd.DataFrame:
        """One row per ranker: each metric with its CI (columns "<metric>", "<metric> lo", "<metric> hi"); with
        ndcg (m, R) and target_popularity (m,) also NDCG by target tercile (the same terciles for every ranker)."""
        rows = []
        for r, name in enumerate(names):
            t = bias_table(self.lists[:, r], self.popularity[:, r], self.in_tail[:, r], self.n_catalogue,
                           None if ndcg is None else ndcg[:, r], target_popularity, n_boot=n_boot, seed=seed)
            named = (("", "value"), (" lo", "ci_low"), (" hi", "ci_high"))
            rows.append({"ranker": name, **{f"{m}{sfx}": t.loc[m, col] for m in t.index for sfx, col in named}})
        return pd.DataFrame(rows)
