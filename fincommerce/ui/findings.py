"""Findings in words and headline figures, generated from each notebook's recorded values.

A reviewer reads reports without the code: every report ends with these sentences, and the index
shows the headline figures, rounded.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fincommerce.offline.sessions import RECENCY
from fincommerce.schema import SIGNALS
from fincommerce.ui.next_view_findings import next_view_findings

Records = Mapping[str, Any]


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def ci(pair: list[float]) -> str:
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def _simulate(r: Records) -> list[str]:
    rates = r.get("rates_per_view", {})
    out = [f"{r['n_events']:,} events in {r['n_sessions']:,} sessions were logged; the store holds "
           f"{r['n_stored_interactions']:,} interactions."]
    if rates:
        out.append(f"Per view, {pct(rates['click'])} of products were clicked, {pct(rates['add_to_cart'])} added to "
                   f"the cart and {pct(rates['purchase'])} bought.")
    return out


def _tune(r: Records) -> list[str]:
    test, cis, n = r["test_metric"], r["test_ci"], r["n_sessions"]
    lo, hi = r["tuning_gain_ci"]
    paired = r.get("test_gain")
    out = [f"On {n['test']:,} held-out sessions the seed's weights score NDCG@10 {test['defaults']:.3f} "
           f"{ci(cis['defaults'])} and the grid's best {test['tuned']:.3f} {ci(cis['tuned'])}"
           + (f"; paired on the same sessions the difference is {paired['mean']:+.4f} "
              f"[{paired['ci'][0]:+.4f}, {paired['ci'][1]:+.4f}]." if paired else "."),
           "Judged on sessions it did not pick on (2-fold over 10 random halvings of the tuning split), "
           f"grid search gains {lo:+.3f} to {hi:+.3f}; "
           + ("the interval is above 0, so the tuned weights are saved." if r["recommended"] == "tuned"
              else "the interval includes 0, so the seed's defaults are kept and saved."),
           f"The best single signal scores {test['best_single']:.3f}: the blend "
           f"{'beats' if test['defaults'] > test['best_single'] else 'does not beat'} every signal alone."]
    drops = r.get("ablation_drop", {})
    if drops:
        signal = min(drops, key=drops.get)
        out.append(f"Removing {signal} from the defaults changes held-out NDCG@10 the most: {drops[signal]:+.3f}.")
    if r.get("verdict"):
        out.append(r["verdict"])
    out += _long_tail(r)
    cf = r.get("counterfactual")
    if cf:
        out.append(
            "Removing a result's top-explained signal lowers its score in "
            + " and ".join(f"{pct(v['share'])} of {v['n_results']:,} results ({k} ranker)" for k, v in cf.items())
            + "."
        )
    protocol = {row["ranker"]: row for row in r.get("protocol", [])}
    if protocol:
        recent, seed = protocol[RECENCY], protocol["seed defaults"]
        out.append(f"On this log's session protocol, ranking the session's most recently viewed products first scores "
                   f"NDCG@10 {recent['ndcg@10']:.3f} against {seed['ndcg@10']:.3f} for the seed's weights (paired gain "
                   f"{recent['gain vs first']:+.3f} [{recent['gain vs first lo']:+.3f}, "
                   f"{recent['gain vs first hi']:+.3f}]).")
        learned = protocol.get("learned (LambdaRank)")
        if learned:
            lo, hi = learned["gain vs recency lo"], learned["gain vs recency hi"]
            verdict = "beats" if lo > 0 else "matches" if hi >= 0 else "loses to"
            out.append(f"With the context features, LambdaRank scores NDCG@10 {learned['ndcg@10']:.3f}: it {verdict} "
                       f"most-recently-viewed-first (paired gain {learned['gain vs recency']:+.4f} [{lo:+.4f}, "
                       f"{hi:+.4f}]; “matches” means the CI includes 0).")
    if r.get("next_view"):
        out += next_view_findings(r["next_view"])
    for row in r.get("recovery", []):
        planted = ", ".join(f"{s} {row[f'planted {s}']:.2f}" for s in SIGNALS)
        recovered = ", ".join(f"{s} {row[f'recovered {s}']:.2f}" for s in SIGNALS)
        out.append(f"Planted world “{row['world']}” ({planted}): tuning recovered {recovered}; held-out gain over "
                   f"the defaults {row['gain']:+.4f} [{row['gain ci low']:+.4f}, {row['gain ci high']:+.4f}], "
                   f"saved {row['saved']} — {'as required' if row['passed'] else 'NOT as required'}.")
    return out


def _long_tail(r: Records) -> list[str]:
    """What the tuned weights cost the long tail next to the seed's, and the popularity-weight frontier's ends."""
    out, bias = [], {row["ranker"]: row for row in r.get("ranker_bias", [])}
    if {"seed defaults", "tuned linear"} <= set(bias):
        seed, tuned = bias["seed defaults"], bias["tuned linear"]
        gain = tuned["ndcg@10"] - seed["ndcg@10"]
        cost = ("tuning costs the long tail nothing: it shows more of it" if tuned["APLT"] > seed["APLT"] else
                "tuning leaves the long tail's share as it was" if tuned["APLT"] == seed["APLT"] else
                "tuning buys its accuracy with the long tail's exposure" if gain > 0 else
                "tuning narrows what shoppers see without gaining accuracy")
        def share(row: Mapping[str, Any]) -> str:
            return f"{pct(row['APLT'])} [{pct(row['APLT lo'])}, {pct(row['APLT hi'])}]"
        out.append(f"The long tail: the tuned weights give {share(tuned)} of their top-10 slots to long-tail products "
                   f"against the seed's {share(seed)} (mean popularity of a listed product {tuned['ARP']:.1f} vs "
                   f"{seed['ARP']:.1f}), at NDCG@10 {gain:+.3f}: {cost}.")
    ends = list(r.get("frontier_endpoints", {}).items())
    if len(ends) == 2:
        (low, a), (high, b) = ends
        out.append(f"Raising the popularity weight from {low.split()[-1]} to {high.split()[-1]} (the tuned weights' "
                   f"other four rescaled) moves held-out NDCG@10 from {a['ndcg@10']:.3f} "
                   f"{ci([a['ndcg@10 lo'], a['ndcg@10 hi']])} to {b['ndcg@10']:.3f} "
                   f"{ci([b['ndcg@10 lo'], b['ndcg@10 hi']])} and the long-tail share from {pct(a['APLT'])} to "
                   f"{pct(b['APLT'])}.")
    return out


def _trends(r: Records) -> list[str]:
    out = []
    if r.get("top_trending"):
        top = r["top_trending"][0]
        out.append(f"The top trending product is {top.get('product') or top['product_id']} ({top['product_id']}).")
    if "searches_boosted" in r:
        out.append(f"Popularity is above zero for {pct(r['popularity_coverage'])} of the catalogue and boosted "
                   f"{pct(r['searches_boosted'])} of the sampled searches.")
    else:  # a real log: no queries, no indexed catalogue
        out.append(
            f"Popularity is above zero for {pct(r['popularity_coverage'])} of the log's products at its newest event."
        )
    corr = r.get("popularity_final_correlation")
    if corr is not None:
        out.append(f"Its correlation with the final score is {corr:.2f}: popularity "
                   f"{'shapes' if corr > 0.3 else 'nudges'} rankings without deciding them.")
    out.append(f"The most different half-lives share {pct(r['half_life_overlap_min'])} of their top lists: "
               f"{'the half-life matters' if r['half_life_overlap_min'] < 0.5 else 'the half-life matters little'}.")
    return out


def _browse(r: Records) -> list[str]:
    results = r.get("results", [])
    if not results:
        return [f"No results for “{r['query']}”."]
    top = results[0]
    return [f"For “{r['query']}” the first result is {top.get('name') or top['product_id']} (final score "
            f"{top['final_score']:.3f}) because: {top['reason']}", f"Ranking weights: {r['weights']}."]


def _backtest(r: Records) -> list[str]:
    rows = r["backtest"]
    best, seed = rows[0], next(x for x in rows if x["predictor"].startswith("seed"))
    baselines = [x for x in rows if x["predictor"].startswith("baseline")]
    out = [f"Over {r['n_cuts']:,} cut points the best predictor is {best['predictor']}: NDCG@10 {best['ndcg@10']:.3f} "
           f"{ci([best['ndcg lo'], best['ndcg hi']])} against the seed's {seed['ndcg@10']:.3f} "
           f"{ci([seed['ndcg lo'], seed['ndcg hi']])}."]
    if baselines:
        b = baselines[0]
        out.append(f"The best baseline, {b['predictor'].removeprefix('baseline: ')}, scores {b['ndcg@10']:.3f}: "
                   f"the seed's decayed trending {'beats' if seed['ndcg@10'] > b['ndcg@10'] else 'does not beat'} it.")
    out.append(r["recommendation"]["words"])
    if bias := {x["predictor"]: x for x in r.get("bias", [])}:
        def tail(name: str) -> str:
            return f"{pct(bias[name]['APLT'])} of its slots on long-tail products (ARP {bias[name]['ARP']:.1f})"
        out.append(f"The long tail: the seed gives {tail(seed['predictor'])}; the best predictor "
                   f"{tail(best['predictor'])}" + (f"; {baselines[0]['predictor'].removeprefix('baseline: ')} "
                   f"{tail(baselines[0]['predictor'])}" if baselines and baselines[0]['predictor'] in bias else "")
                   + (". The best predictor's accuracy is bought with the head's exposure." if
                      bias[best["predictor"]]["APLT"] < bias[seed["predictor"]]["APLT"] else "."))
    return out


def _rising(r: Records) -> list[str]:
    return list(r["findings"]) or ["No log was measured."]


FINDINGS: dict[str, Callable[[Records], list[str]]] = {
    "01": _simulate, "02": _tune, "03": _trends, "04": _browse, "05": _backtest, "06": _rising}


def findings(name: str, records: Records) -> list[str]:
    """`name` is a report's name: its notebook's number first ("03-popularity-trends-rees46")."""
    try:
        return FINDINGS[name[:2]](records)
    except (KeyError, TypeError, IndexError, ValueError, StopIteration):
        return ["The notebook did not record the values its findings are written from."]


def headlines(name: str, r: Records) -> list[tuple[str, str]]:
    """2–4 (label, figure) pairs per report for the index."""
    try:
        name = name[:2]
        if name == "01":
            return [("events", f"{r['n_events']:,}"), ("sessions", f"{r['n_sessions']:,}"),
                    ("purchases per view", pct(r["rates_per_view"]["purchase"]))]
        if name == "02":
            t = r["test_metric"]
            return [("held-out NDCG@10, defaults", f"{t['defaults']:.3f}"), ("tuned", f"{t['tuned']:.3f}"),
                    ("saved", r["recommended"]), ("ranker", r.get("recommended_ranker", "linear"))]
        if name == "03":
            return [("catalogue with popularity", pct(r["popularity_coverage"]))] + (
                [("searches boosted", pct(r["searches_boosted"]))] if "searches_boosted" in r else [])
        if name == "04":
            top = r["results"][0]
            return [("query", r["query"]), ("first result", top.get("name") or top["product_id"])]
        if name == "05":
            best, rec = r["backtest"][0], r["recommendation"]
            return [("cut points", f"{r['n_cuts']:,}"), ("best", f"{best['predictor']} ({best['ndcg@10']:.3f})"),
                    ("recommended", rec["chosen"] if rec["recommended"] else "seed's settings")]
        if name == "06":
            return [(f"{log}: 3x recall, ours", f"{row['recall@2h']:.2f}") for log, rows in r["burst_table"].items()
                    for row in rows if row["detector"].startswith("rising") and row["burst"] == "3x"]
    except (KeyError, TypeError, IndexError, StopIteration):
        pass
    return []
