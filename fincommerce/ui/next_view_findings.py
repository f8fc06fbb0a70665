"""The next-view protocol's findings in words, from 02's recorded `next_view` values (a real log only)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fincommerce.offline.published_anchors import ANCHORS, SOURCE, WHY_THEY_DIFFER

OURS = ("tuned linear", "learned (LambdaRank)")
# What each baseline ranks by, named as the signal a ranker that loses to it lacks.
SIGNAL_OF = {"baseline: popularity": "what is trending now",
             "baseline: semantic only": "closeness in meaning to what the session viewed",
             "baseline: co-occurrence kNN": "what other sessions viewed together with the session's products"}


def _ci(lo: float, hi: float) -> str:
    return f"[{lo:+.3f}, {hi:+.3f}]"


def _short(baseline: str) -> str:
    return baseline.removeprefix("baseline: ")


def next_view_findings(r: Mapping[str, Any]) -> list[str]:
    """Counts and skips, the strongest baseline, whether the tuned and learned rankers beat every baseline with a
    paired 95 % CI above 0 (or which signal they miss), and the published anchors, labelled as other protocols."""
    skipped = ", ".join(f"{v:,} {k}" for k, v in r["skipped"].items())
    out = [*r["notes"], f"Next-view protocol: {r['n_targets']:,} targets (a product the session had not viewed yet) "
           f"in {r['n_sessions_with_targets']:,} sessions; skipped: {skipped}."]
    rows = {row["ranker"]: row for row in r["rankers"]}
    if not rows:
        return [*out, "No held-out step to compare the rankers on: the next-view table is empty."]
    base = rows[r["strongest_baseline"]]
    out.append(f"On {r['n_sessions']['test']:,} held-out sessions ({r['n_steps']['test']:,} steps) the candidate "
               f"generator retrieved the target in {100 * r['retrieved_share']:.1f} % of steps (it is added to the "
               f"rest); the strongest baseline is {_short(r['strongest_baseline'])}, NDCG@10 "
               f"{base['ndcg@10']:.3f} [{base['ndcg@10 lo']:.3f}, {base['ndcg@10 hi']:.3f}].")
    for ours in (o for o in OURS if o in rows):
        versus = [v for v in r["versus"] if v["ranker"] == ours]
        lost = [v["baseline"] for v in versus if v["gain lo"] <= 0]
        gains = "; ".join(f"{_short(v['baseline'])} {v['gain']:+.3f} {_ci(v['gain lo'], v['gain hi'])}" for v in versus)
        verdict = ("does not beat " + " or ".join(_short(b) for b in lost) + " with a CI above 0" if lost else
                   "beats popularity, semantic-only and co-occurrence kNN, each with a paired 95 % CI above 0")
        out.append(f"The {ours} ranker (NDCG@10 {rows[ours]['ndcg@10']:.3f}) {verdict}: paired gains {gains}.")
        if lost:
            b = min(versus, key=lambda v: v["gain"])["baseline"]
            out.append(f"Missing from the {ours} ranker: {SIGNAL_OF[b]} — {_short(b)} alone scores NDCG@10 "
                       f"{rows[b]['ndcg@10']:.3f} against its {rows[ours]['ndcg@10']:.3f}.")
    anchors = "; ".join(f"{a['model']} NDCG@20 {a['ndcg@20']:.4f}, recall@20 {a['recall@20']:.4f}" for a in ANCHORS)
    why = WHY_THEY_DIFFER[0].lower() + WHY_THEY_DIFFER[1:]
    out.append(f"For context only, other protocols ({SOURCE}): {anchors}. They are not comparable with ours: {why}")
    return out
