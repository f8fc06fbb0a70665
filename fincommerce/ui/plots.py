"""Figure builders for the notebooks: each returns a Figure (no plt.show, no file writes)."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fincommerce.offline.analysis import volumes_per_day as volume_table
from fincommerce.schema import INTERACTION_TYPES, SIGNALS

TYPE_COLORS = {"view": "#9ecae1", "click": "#4292c6", "add_to_cart": "#fd8d3c", "purchase": "#d94801"}


def _dt(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, unit="s", utc=True)


def volumes_per_day(events: pd.DataFrame) -> Figure:
    table = volume_table(events)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    table.plot.bar(stacked=True, ax=ax, color=[TYPE_COLORS[t] for t in table.columns], width=0.8)
    ax.set(title="Interactions per day", xlabel="day (UTC)", ylabel="events per day")
    ax.legend(title="type", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def funnel(events: pd.DataFrame) -> Figure:
    counts = events.interaction_type.value_counts().reindex(INTERACTION_TYPES, fill_value=0)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(counts.index[::-1], counts.values[::-1], color=[TYPE_COLORS[t] for t in counts.index[::-1]])
    for i, v in enumerate(counts.values[::-1]):
        ax.text(v, i, f" {v:,}", va="center", fontsize=9)
    ax.set(title="Funnel: view → click → add_to_cart → purchase", xlabel="events", ylabel="step")
    fig.tight_layout()
    return fig


def volume_by_hour(events: pd.DataFrame) -> Figure:
    """Events per hour of day and type; `events` may be those counts already (hours × types, as
    `logs.trends.hour_of_day_counts` gives a log left in the engine)."""
    hours = events if "timestamp" not in events.columns else events.assign(hour=_dt(events.timestamp).dt.hour) \
        .pivot_table(index="hour", columns="interaction_type", values="timestamp", aggfunc="count", fill_value=0)
    hours = hours.reindex(index=range(24), fill_value=0)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for t in INTERACTION_TYPES:
        if t in hours:
            ax.plot(hours.index, hours[t], marker="o", ms=3, label=t, color=TYPE_COLORS[t])
    ax.set(title="Volume per type by hour of day (UTC)", xlabel="hour of day (UTC)", ylabel="events",
           xticks=range(0, 24, 2))
    ax.legend(title="type", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def simplex_slices(grid: np.ndarray, scores: np.ndarray, pairs: Sequence[tuple[int, int]], metric: str) -> Figure:
    """Heat maps over two weights; each cell is the best score over the other three weights."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.8), squeeze=False)
    steps = np.round(np.unique(grid[:, 0]), 6)
    for ax, (i, j) in zip(axes[0], pairs):
        frame = pd.DataFrame({"a": np.round(grid[:, i], 6), "b": np.round(grid[:, j], 6), "s": scores})
        table = frame.groupby(["a", "b"]).s.max().unstack().reindex(index=steps, columns=steps)
        im = ax.imshow(table.values, origin="lower", cmap="viridis", aspect="auto",
                       extent=(-0.025, 1.025, -0.025, 1.025))
        ax.set(xlabel=f"{SIGNALS[j]} weight", ylabel=f"{SIGNALS[i]} weight")
        fig.colorbar(im, ax=ax, label=f"best {metric}")
    fig.suptitle(f"Tuning-split {metric} over 2-D slices of the weight simplex")
    fig.tight_layout()
    return fig


def contenders(table: pd.DataFrame, metric: str) -> Figure:
    t = table.sort_values(f"test_{metric}")
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(t) + 1))
    err = np.vstack([t[f"test_{metric}"] - t.ci_low, t.ci_high - t[f"test_{metric}"]])
    colors = ["#d94801" if w == "tuned" else "#4292c6" if w == "seed defaults" else "#bdbdbd" for w in t.weights]
    ax.barh(t.weights, t[f"test_{metric}"], xerr=err, color=colors, capsize=3)
    ax.set(title=f"Held-out {metric}@10 with 95 % bootstrap CIs", xlabel=f"{metric}@10 (held-out mean)",
           ylabel="weights")
    fig.tight_layout()
    return fig


def trending_curves(curves: pd.DataFrame, half_life_hours: float, window_hours: float) -> Figure:
    """Curves from `offline.analysis.trending_curves` (one column per product)."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for pid in curves.columns:
        ax.plot(curves.index, curves[pid], label=pid)
    ax.set(title=f"Trending score of the top products ({half_life_hours:g} h half-life, {window_hours:g} h window)",
           xlabel="time (UTC)", ylabel="decayed weighted interactions")
    ax.legend(title="product", fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def half_life_sensitivity(overlap: pd.DataFrame) -> Figure:
    """overlap: index = half-life hours, columns = other half-lives, values = top-k overlap share."""
    fig, ax = plt.subplots(figsize=(5, 4))
    im = ax.imshow(overlap.values, cmap="magma", vmin=0, vmax=1)
    ax.set_xticks(range(len(overlap.columns)), [f"{c:g} h" for c in overlap.columns])
    ax.set_yticks(range(len(overlap.index)), [f"{c:g} h" for c in overlap.index])
    for (i, j), v in np.ndenumerate(overlap.values):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black", fontsize=8)
    ax.set(title="Top-k overlap between half-lives", xlabel="half-life (hours)", ylabel="half-life (hours)")
    fig.colorbar(im, ax=ax, label="share of the top-k list in common")
    fig.tight_layout()
    return fig


def score_distributions(results: pd.DataFrame) -> Figure:
    cols = [f"{s}_score" for s in SIGNALS] + ["final_score"]
    fig, axes = plt.subplots(1, len(cols), figsize=(2.3 * len(cols), 2.6), sharey=True)
    for ax, col in zip(axes, cols):
        ax.hist(results[col], bins=20, range=(0, 1), color="#4292c6")
        ax.set_title(col.replace("_score", ""), fontsize=9)
        ax.set_xlabel("score (0–1)", fontsize=8)
    axes[0].set_ylabel("results")
    fig.suptitle("Score distributions over sample search results")
    fig.tight_layout()
    return fig


def backtest_ndcg(table: pd.DataFrame, seed_weights: str) -> Figure:
    """NDCG@10 against the half-life, one line per window (seed's type weights), 95 % CIs; baselines dashed."""
    rows = table[(table["kind"] == "trending") & (table["weights"] == seed_weights)
                 & ~table["half-life (h)"].str.contains("/")].assign(h=lambda t: t["half-life (h)"].astype(float))
    fig, ax = plt.subplots(figsize=(8, 4))
    for window, g in rows.sort_values("h").groupby("window (h)"):
        ax.errorbar(g["h"], g["ndcg@10"], yerr=[g["ndcg@10"] - g["ndcg lo"], g["ndcg hi"] - g["ndcg@10"]],
                           marker="o", capsize=3, label=f"{window:g} h window")
    for (_, b), style in zip(table[table["kind"] == "baseline"].iterrows(), ("--", ":", "-.")):
        ax.axhline(b["ndcg@10"], color="grey", linestyle=style, label=b["predictor"])
    ax.set_xscale("log")
    ax.set(title="Does trending predict the next horizon? NDCG@10 by half-life", xlabel="half-life (hours, log scale)",
           ylabel="NDCG@10 (mean over cut points)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def bias_frontier(frontier: pd.DataFrame, rankers: pd.DataFrame | None = None) -> Figure:
    """Held-out NDCG@10 (95 % CI bars) against APLT as the popularity weight rises, each point labelled with its
    weight (APLT's CIs are in the table: crossed bars hide the curve); `rankers` (the per-ranker bias table) adds
    the seed's and the tuned weights as markers."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    f = frontier
    ax.errorbar(f["APLT"], f["ndcg@10"], yerr=[f["ndcg@10"] - f["ndcg@10 lo"], f["ndcg@10 hi"] - f["ndcg@10"]],
                marker="o", ms=4, capsize=3,
                color="#d94801", ecolor="#fdae6b", label="tuned weights, popularity weight w (others rescaled)")
    for w, x, y in zip(f["w_pop"], f["APLT"], f["ndcg@10"]):
        ax.annotate(f"{w:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    for name, marker in (("seed defaults", "s"), ("tuned linear", "D")):
        if rankers is not None and name in set(rankers["ranker"]):
            r = rankers.set_index("ranker").loc[name]
            ax.plot(r["APLT"], r["ndcg@10"], marker=marker, ls="", color="#4292c6" if marker == "s" else "black",
                    label=name)
    ax.set(title="Accuracy vs the long tail as the popularity weight goes from 0 to 0.5",
           xlabel="APLT: share of top-10 slots on long-tail products (held-out mean)",
           ylabel="NDCG@10 (held-out mean)")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
