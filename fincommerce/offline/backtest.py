"""Trending backtest: does the trending formula as of `t` predict what shoppers do in (t, t + horizon]?

At every cut point the products are ranked with only the events up to `t` (no look-ahead) and the
ranking is scored against the horizon's weighted interactions (the target always uses the seed's
type weights, so every predictor answers the same question): NDCG@10 with the future weighted counts
as graded gains, and recall@20 = share of the horizon's products found in the top 20 (out of at most 20).
Everything runs on event columns (numpy), so a 10M-event log needs no store and no embeddings.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.config import DAY, HOUR, Settings
from fincommerce.errors import ValidationError
from fincommerce.offline.bias import Exposure, long_tail
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.trending.decay import decay_factor
from fincommerce.trending.exact import TYPE_CODE

K_NDCG, K_RECALL = 10, 20


@dataclass(frozen=True)
class Predictor:
    """One way of ranking products at a cut: type weights, per-type half-lives (inf = no decay), a window."""

    name: str
    weights: tuple[float, ...]
    half_lives_hours: tuple[float, ...]
    window_hours: float
    previous_day: bool = False  # the UTC day before the cut's day instead of a window ending at the cut
    kind: str = "trending"  # "trending" (expressible as Settings) or "baseline"

    def settings(self) -> dict:
        """The Settings fields this predictor stands for (only for kind == "trending")."""
        hl = dict(zip(INTERACTION_TYPES, self.half_lives_hours))
        shared = max(set(hl.values()), key=list(hl.values()).count)
        return {"half_life_hours": shared, "half_life_by_type": {t: h for t, h in hl.items() if h != shared},
                "trending_window_hours": self.window_hours,
                "interaction_weights": dict(zip(INTERACTION_TYPES, self.weights))}


def seed_predictor(settings: Settings | None = None) -> Predictor:
    s = settings or Settings()
    return Predictor("seed (6 h, 24 h window)", tuple(s.interaction_weights[t] for t in INTERACTION_TYPES),
                     tuple(s.half_life_seconds(t) / HOUR for t in INTERACTION_TYPES), s.trending_window_hours)


def predictors(half_lives: Sequence[float], window_hours: Sequence[float],
               weights_grid: Sequence[Mapping[str, float]] = (), type_half_lives: Sequence[Mapping[str, float]] = (),
               *, settings: Settings | None = None, span_hours: float = math.inf) -> list[Predictor]:
    """The seed, every half-life × window × weights, per-type half-lives, and the baselines."""
    seed = seed_predictor(settings)
    grids = [seed.weights] + [tuple(float(w[t]) for t in INTERACTION_TYPES) for w in weights_grid]
    out, seen = [seed], {(seed.weights, seed.half_lives_hours, seed.window_hours)}

    def add(name: str, w: tuple, hl: tuple, window: float) -> None:
        if (w, hl, window) not in seen:
            seen.add((w, hl, window))
            out.append(Predictor(name, w, hl, window))

    for window in window_hours:
        for w in dict.fromkeys(grids):
            label = "" if w == seed.weights else " weights " + "/".join(f"{x:g}" for x in w)
            for h in half_lives:
                add(f"{h:g} h half-life, {window:g} h window{label}", w, (float(h),) * len(INTERACTION_TYPES), window)
        for per_type in type_half_lives:
            hl = tuple(float(per_type.get(t, seed.half_lives_hours[i])) for i, t in enumerate(INTERACTION_TYPES))
            add("per type " + "/".join(f"{x:g}" for x in hl) + f" h, {window:g} h window", seed.weights, hl, window)
    no_decay = (math.inf,) * len(INTERACTION_TYPES)
    # MostPop (every event so far, as of the cut) is the baseline Ji et al. (SIGIR 2020) find under-reported.
    out.append(Predictor("baseline: MostPop, all events so far (no decay)", seed.weights, no_decay, math.inf,
                         kind="baseline"))
    for window in sorted({seed.window_hours, max(window_hours, default=0.0)} - {0.0}):
        out.append(Predictor(f"baseline: counts over {window:g} h (no decay)", seed.weights, no_decay, window,
                             kind="baseline"))
    out.append(Predictor("baseline: counts of the last hour", seed.weights, no_decay, 1.0, kind="baseline"))
    if span_hours >= 48:
        out.append(Predictor("baseline: previous day's top list", seed.weights, no_decay, 24.0, True, "baseline"))
    return out


@dataclass
class LogColumns:
    """A log as sorted parallel arrays: what every cut reads with two binary searches."""

    t: np.ndarray
    product: np.ndarray
    type_code: np.ndarray
    product_ids: list[str]

    @classmethod
    def from_events(cls, events: pd.DataFrame) -> LogColumns:
        ev = events.sort_values("timestamp", kind="stable")
        codes, ids = pd.factorize(ev["product_id"].astype(str), sort=True)
        kinds = ev["interaction_type"].astype(str).map(TYPE_CODE)
        if unknown := set(ev["interaction_type"][kinds.isna()]):
            raise ValidationError("interaction_type", ", ".join(INTERACTION_TYPES), sorted(unknown))
        return cls(ev["timestamp"].to_numpy(np.float64), codes.astype(np.int32), kinds.to_numpy(np.int8), list(ids))

    @property
    def span_hours(self) -> float:
        return float(self.t[-1] - self.t[0]) / HOUR if len(self.t) else 0.0

    def weighted(self, lo: float, hi: float, weights: np.ndarray, half_lives: np.ndarray, now: float) -> np.ndarray:
        """Σ weight · 0.5^((now − t)/h) per product over events with lo ≤ t ≤ hi (the trending window's bounds)."""
        a, b = np.searchsorted(self.t, lo, side="left"), np.searchsorted(self.t, hi, side="right")
        k = self.type_code[a:b].astype(np.intp)
        contrib = weights[k] * decay_factor(now - self.t[a:b], half_lives[k])
        return np.bincount(self.product[a:b], weights=contrib, minlength=len(self.product_ids))


def cut_points(cols: LogColumns, horizon_hours: float, cut_every_minutes: float) -> np.ndarray:
    """Cuts from one horizon after the first event to one horizon before the last, every `cut_every_minutes`."""
    if not (isinstance(horizon_hours, (int, float)) and math.isfinite(horizon_hours) and horizon_hours > 0):
        raise ValidationError("horizon_hours", "a number of hours > 0", horizon_hours)
    if not (isinstance(cut_every_minutes, (int, float)) and math.isfinite(cut_every_minutes) and cut_every_minutes > 0):
        raise ValidationError("cut_every_minutes", "a number of minutes > 0", cut_every_minutes)
    if 2 * horizon_hours > cols.span_hours:
        raise ValidationError("horizon_hours", f"at most half the log's span ({cols.span_hours:.2f} h), so each "
                              "cut has history before it and a full horizon after it", horizon_hours)
    start, stop = cols.t[0] + horizon_hours * HOUR, cols.t[-1] - horizon_hours * HOUR
    return np.arange(start, stop + 1e-9, cut_every_minutes * 60.0)


def _top(raw: np.ndarray, k: int) -> np.ndarray:
    """Products with a positive score, best first; 10-decimal ties (0.1 + 0.2 vs 0.3) go by product id."""
    score = np.round(raw, 10)
    present = np.flatnonzero(score > 0)
    if len(present) > 4 * k:
        kth = np.partition(score[present], len(present) - k)[len(present) - k]
        present = present[score[present] >= kth]
    return present[np.lexsort((present, -score[present]))][:k]


def score_cut(raw: np.ndarray, gains: np.ndarray) -> tuple[float, float]:
    """(NDCG@10, recall@20) of one ranking against the horizon's weighted interactions."""
    return score_top(_top(raw, max(K_NDCG, K_RECALL)), gains)


def score_top(top: np.ndarray, gains: np.ndarray) -> tuple[float, float]:
    discount = 1.0 / np.log2(np.arange(2, K_NDCG + 2))
    dcg = float((gains[top[:K_NDCG]] * discount[:len(top[:K_NDCG])]).sum())
    ideal = np.sort(gains[gains > 0])[::-1][:K_NDCG]
    relevant = int((gains > 0).sum())
    recall = float((gains[top[:K_RECALL]] > 0).sum()) / min(K_RECALL, relevant)
    return dcg / float((ideal * discount[:len(ideal)]).sum()), recall


@dataclass
class BacktestResult:
    per_cut: pd.DataFrame  # one row per (cut, predictor): ndcg, recall
    predictors: list[Predictor]
    cuts: np.ndarray  # the cuts that had future interactions
    n_empty_cuts: int  # cuts skipped because nothing happened in their horizon
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    exposure: Exposure | None = None  # each predictor's top 10 per cut, for the popularity-bias table


def _pad(top: np.ndarray, k: int = K_NDCG) -> np.ndarray:
    return np.concatenate([top[:k], np.full(max(0, k - len(top)), -1)]).astype(np.int32)


def run_backtest(events: pd.DataFrame | LogColumns, candidates: Sequence[Predictor], horizon_hours: float,
                 cut_every_minutes: float, *, settings: Settings | None = None,
                 show_progress: bool = True) -> BacktestResult:
    """Score every predictor at every cut; the target weights are the seed's (or `settings`') type weights."""
    cols = events if isinstance(events, LogColumns) else LogColumns.from_events(events)
    if not len(cols.t):
        raise ValidationError("events", "at least one event", "an empty log")
    cuts = cut_points(cols, horizon_hours, cut_every_minutes)
    target = np.array(seed_predictor(settings).weights)
    no_decay = np.full(len(INTERACTION_TYPES), math.inf)
    rows, kept, lists, popularity, tail = [], [], [], [], []
    seen, read = np.zeros(len(cols.product_ids)), 0  # interactions so far: popularity as of the cut
    for cut in tqdm(cuts, desc="Backtest cut points", disable=not show_progress):
        gains = cols.weighted(np.nextafter(cut, math.inf), cut + horizon_hours * HOUR, target, no_decay, cut)
        if not (gains > 0).any():
            continue
        kept.append(cut)
        upto = int(np.searchsorted(cols.t, cut, side="right"))
        seen += np.bincount(cols.product[read:upto], minlength=len(seen))
        read = upto
        in_tail, listed = long_tail(seen), []
        for j, p in enumerate(candidates):
            now = math.floor(cut / DAY) * DAY if p.previous_day else cut
            hi = np.nextafter(now, -math.inf) if p.previous_day else now  # midnight belongs to the new day
            raw = cols.weighted(now - p.window_hours * HOUR, hi, np.array(p.weights),
                                np.array(p.half_lives_hours) * HOUR, now)
            top = _top(raw, max(K_NDCG, K_RECALL))
            rows.append((cut, j, *score_top(top, gains)))
            listed.append(_pad(top))
        shown = np.array(listed)
        lists.append(shown)
        popularity.append(np.where(shown >= 0, seen[shown], 0.0))
        tail.append(in_tail[shown] & (shown >= 0))
    per_cut = pd.DataFrame(rows, columns=["cut", "predictor", "ndcg", "recall"])
    shape = (len(kept), len(candidates), K_NDCG)
    exposure = Exposure(np.array(lists, np.int32).reshape(shape), np.array(popularity).reshape(shape),
                        np.array(tail, bool).reshape(shape), len(cols.product_ids))
    return BacktestResult(per_cut, list(candidates), np.array(kept), len(cuts) - len(kept), exposure=exposure)


def _boot(values: np.ndarray, idx: np.ndarray) -> tuple[float, float]:
    means = values[idx].mean(1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def summarise(result: BacktestResult, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per predictor: mean NDCG@10 and recall@20 with 95 % bootstrap CIs over cut points, and the
    paired gain over the seed (predictor 0) resampling the same cuts for both."""
    ndcg = result.per_cut.pivot(index="cut", columns="predictor", values="ndcg").to_numpy()
    recall = result.per_cut.pivot(index="cut", columns="predictor", values="recall").to_numpy()
    idx = np.random.default_rng(seed).integers(0, len(ndcg), size=(n_boot, len(ndcg)))
    def stat(name: str, short: str, values: np.ndarray) -> dict[str, float]:
        return {name: values.mean(), **dict(zip((f"{short} lo", f"{short} hi"), _boot(values, idx)))}
    rows = []
    for j, p in enumerate(result.predictors):
        gain = ndcg[:, j] - ndcg[:, 0]
        rows.append({"predictor": p.name, "kind": p.kind,
                     "half-life (h)": "/".join(dict.fromkeys(f"{h:g}" for h in p.half_lives_hours)),
                     "window (h)": p.window_hours, "weights": "/".join(f"{w:g}" for w in p.weights),
                     **stat("ndcg@10", "ndcg", ndcg[:, j]), **stat("recall@20", "recall", recall[:, j]),
                     **stat("gain vs seed", "gain", gain)})
    result.table = pd.DataFrame(rows).sort_values("ndcg@10", ascending=False, kind="stable").reset_index(drop=True)
    return result.table
