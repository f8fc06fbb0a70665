"""Figures of notebook 06 and 03's rising section (each returns a Figure; nothing is shown or written)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def burst_recall(table: pd.DataFrame, title: str) -> Figure:
    """Recall within 2 h per detector and burst size, with the bootstrap CIs as error bars."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    sizes = list(dict.fromkeys(table["burst"]))
    detectors = list(dict.fromkeys(table["detector"]))
    width = 0.8 / max(len(detectors), 1)
    x = np.arange(len(sizes))
    for i, det in enumerate(detectors):
        d = table[table.detector == det].set_index("burst").reindex(sizes)
        err = np.vstack([d["recall@2h"] - d["recall lo"], d["recall hi"] - d["recall@2h"]])
        axes[0].bar(x + i * width, d["recall@2h"], width, yerr=err, label=det, capsize=3)
        fa = d.iloc[0]
        axes[1].bar(i, fa["false alarms /1000 product-days"], 0.6,
                    yerr=[[fa["false alarms /1000 product-days"] - fa["fa lo"]],
                          [fa["fa hi"] - fa["false alarms /1000 product-days"]]], capsize=3)
    axes[0].axhline(0.9, color="grey", ls="--", lw=1)
    axes[0].set(xticks=x + width * (len(detectors) - 1) / 2, xticklabels=sizes, ylim=(0, 1.05),
                xlabel="burst size (x the product's own 6 h count, at least 6 events)", ylabel="recall within 2 h",
                title=f"{title}: bursts found")
    axes[0].legend(fontsize=7, loc="lower right")
    axes[1].axhline(1.0, color="grey", ls="--", lw=1)
    axes[1].set(xticks=range(len(detectors)), xticklabels=[d.split(" ")[0] for d in detectors],
                ylabel="per 1,000 product-days", title="false alarms (log without injections)")
    fig.tight_layout()
    return fig


def riser_curves(curves: pd.DataFrame, names: dict[str, str], title: str) -> Figure:
    """Events per bin of the top risers over the log (the moments asked marked by the caller's title)."""
    fig, ax = plt.subplots(figsize=(9, 3.4))
    for pid in curves.columns:
        ax.plot(curves.index, curves[pid], marker=".", lw=1.2, label=f"{names.get(pid) or ''} [{pid}]".strip())
    ax.set(title=title, xlabel="time (UTC)", ylabel=f"events per {_bin_label(curves)}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def _bin_label(curves: pd.DataFrame) -> str:
    if len(curves.index) < 2:
        return "bin"
    return f"{(curves.index[1] - curves.index[0]).total_seconds() / 60:g} min"
