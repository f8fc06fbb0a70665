"""05's verdict: recommend new trending settings only when they beat, on cut points they were not chosen on,
both the seed's settings and the strongest plain baseline; and the settings file that carries the verdict."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fincommerce.config import MAX_WINDOW_HALF_LIVES
from fincommerce.errors import ValidationError
from fincommerce.offline.backtest import BacktestResult
from fincommerce.offline.bias import Exposure
from fincommerce.offline.evaluation import bootstrap_ci


def recommend(result: BacktestResult, n_boot: int = 1000, seed: int = 0) -> dict:
    """Pick the best trending settings and the strongest baseline on the earlier half of the cuts; recommend the
    settings only when, on the later half, their paired NDCG@10 gain has a 95 % CI above 0 over the seed AND
    over that baseline (selection and test apart; a setting no better than plain counts is not worth a change)."""
    ndcg = result.per_cut.pivot(index="cut", columns="predictor", values="ndcg").to_numpy()
    half = len(ndcg) // 2
    seed_p = result.predictors[0]
    out = {"recommended": False, "chosen": seed_p.name, "settings": seed_p.settings(), "n_cuts": len(ndcg),
           "held_out_gain": 0.0, "held_out_ci": [0.0, 0.0]}
    if half < 2:
        out["words"] = f"Only {len(ndcg)} cut points had future interactions: too few to test; seed settings kept."
        return out
    early, late = ndcg[:half], ndcg[half:]
    kinds = [p.kind for p in result.predictors]
    trending = [j for j, p in enumerate(result.predictors)  # only what Settings can hold
                if p.kind == "trending" and j > 0 and min(p.half_lives_hours) >= p.window_hours / MAX_WINDOW_HALF_LIVES]
    best = max(trending, key=lambda j: (early[:, j].mean(), -j)) if trending else 0
    rivals = [j for j, k in enumerate(kinds) if k == "baseline"]
    gain = late[:, best] - late[:, 0]
    lo, hi = bootstrap_ci(gain, n_boot, seed)
    chosen = result.predictors[best]
    out.update(chosen=chosen.name, held_out_gain=float(gain.mean()), held_out_ci=[lo, hi],
               seed_late=float(late[:, 0].mean()), chosen_late=float(late[:, best].mean()))
    against = f"a paired gain of {gain.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] over the seed ({out['seed_late']:.3f})"
    beats_rival = True
    if rivals:
        rival = max(rivals, key=lambda j: (early[:, j].mean(), -j))
        rgain = late[:, best] - late[:, rival]
        rlo, rhi = bootstrap_ci(rgain, n_boot, seed)  # the same resampled cuts as the seed's gain: paired
        name = result.predictors[rival].name.removeprefix("baseline: ")
        out.update(baseline=name, baseline_gain=float(rgain.mean()), baseline_ci=[rlo, rhi])
        against += f" and of {rgain.mean():+.3f} [{rlo:+.3f}, {rhi:+.3f}] over the strongest baseline, {name}"
        beats_rival = rlo > 0
    out["recommended"] = bool(lo > 0 and beats_rival)
    verdict = ("both CIs are above 0: recommended" if out["recommended"]
               else "it does not beat the strongest baseline, so no trending setting is worth a change: the "
                    "seed's settings stay" if lo > 0
               else "its CI over the seed includes 0 (or lies below): the seed's settings stay")
    out["words"] = (f"Chosen on the earlier {half} of {len(ndcg)} cut points: {chosen.name}. On the later "
                    f"{len(gain)} cut points its NDCG@10 is {out['chosen_late']:.3f}, {against}; {verdict}.")
    if out["recommended"]:
        out["settings"] = chosen.settings()
    return out


def save_settings(path: str | Path, recommendation: dict, source: str) -> Path:
    """The recommendation as a settings file (`--settings FILE`): the chosen settings when recommended,
    else the seed's, so the file always matches the newest report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = ("recommended", "chosen", "held_out_gain", "held_out_ci", "n_cuts", "words")
    path.write_text(json.dumps({"settings": recommendation["settings"], "source": source,
                                **{k: recommendation[k] for k in keep}}, indent=2))
    return path


def predictor_bias(result: BacktestResult, n_boot: int = 1000, seed: int = 0, best: int = 5) -> pd.DataFrame:
    """The popularity-bias table (offline/bias.py) of the seed, the `best` predictors by NDCG@10 and every
    baseline, beside their NDCG@10: what each ranking costs the long tail. Call after `summarise`."""
    if result.exposure is None or result.table.empty:
        raise ValidationError("result", "a numpy-path backtest summarised first (summarise(result))", "no exposure")
    table = result.table
    names = list(dict.fromkeys([result.predictors[0].name, *table.predictor[table.kind == "trending"][:best],
                                *table.predictor[table.kind == "baseline"]]))
    index = {p.name: j for j, p in enumerate(result.predictors)}
    ex = result.exposure
    cols = [index[n] for n in names]
    picked = Exposure(ex.lists[:, cols], ex.popularity[:, cols], ex.in_tail[:, cols], ex.n_catalogue)
    ndcg = table.set_index("predictor").loc[names, "ndcg@10"].to_numpy()
    return picked.table(names, n_boot, seed).assign(**{"ndcg@10": ndcg}).rename(columns={"ranker": "predictor"})
