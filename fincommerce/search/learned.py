"""The learned ranker: a LightGBM LambdaRank model over the signals and raw features, explained exactly.

Scores are the model's raw output. Contributions are LightGBM's `pred_contrib` (TreeSHAP): exact
per-feature attributions that sum with the bias to the raw score; they are summed per owning signal
(`features.FEATURE_SIGNAL`), so explanations name the same five signals as the linear formula.
The model file is LightGBM's text format; its feature names must be ones this package can compute.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import lightgbm as lgb
import numpy as np

from fincommerce.errors import ValidationError
from fincommerce.search.features import FEATURE_NAMES, signal_groups

RANKERS = ("linear", "learned")
MODEL_FILE = "learned_ranker.txt"  # beside the store, like tuned_weights.json


def check_ranker(ranker: Any) -> str:
    if ranker not in RANKERS:
        raise ValidationError("ranker", f"one of {', '.join(repr(r) for r in RANKERS)}", ranker)
    return str(ranker)


class LearnedRanker:
    """A trained booster plus the feature names it expects, in order."""

    def __init__(self, booster: lgb.Booster, source: str = "") -> None:
        self.booster = booster
        self.feature_names: tuple[str, ...] = tuple(booster.feature_name())
        self.source = source
        self.groups = signal_groups(self.feature_names)  # (F, 5)

    @classmethod
    def load(cls, path: str | Path) -> "LearnedRanker":
        """Read a saved model; a missing, corrupt or foreign model is one clear error naming the file."""
        path = Path(path)
        if not path.is_file():
            raise ValidationError("ranker_model", f"a model file at {path} (02-tune-weights saves it; or use "
                                  "ranker='linear')", "no such file")
        try:
            booster = lgb.Booster(model_str=path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, lgb.basic.LightGBMError, ValueError) as exc:
            raise ValidationError("ranker_model", f"a LightGBM model file at {path}", str(exc)) from None
        names = booster.feature_name()
        unknown = [n for n in names if n not in FEATURE_NAMES]
        if unknown or not names:
            raise ValidationError("ranker_model", f"a model at {path} trained on features among "
                                  f"{', '.join(FEATURE_NAMES)}", unknown or names)
        return cls(booster, str(path))

    def save(self, path: str | Path, **metadata: Any) -> Path:
        """The model (LightGBM text) and a JSON sidecar of how it was chosen."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(path), num_iteration=self.booster.best_iteration or None)
        path.with_suffix(".json").write_text(json.dumps({"features": list(self.feature_names), **metadata},
                                                        indent=2, default=float))
        return path

    def select(self, signals: np.ndarray, raw: np.ndarray | None, raw_names: Sequence[str] = ()) -> np.ndarray:
        """The model's feature matrix from (…, 5) signals and (…, R) raw features named `raw_names`."""
        from_signals = {n: i for i, n in enumerate(FEATURE_NAMES[:signals.shape[-1]])}
        from_raw = {n: i for i, n in enumerate(raw_names)}
        cols = []
        for n in self.feature_names:
            if n in from_signals:
                cols.append(signals[..., from_signals[n]])
            elif raw is not None and n in from_raw:
                cols.append(raw[..., from_raw[n]])
            else:
                raise ValidationError("ranker_model", f"features this data provides ({', '.join(from_signals)}, "
                                      f"{', '.join(raw_names)})", n)
        return np.stack(cols, axis=-1).astype(np.float64)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Raw scores of feature rows (…, F)."""
        flat = x.reshape(-1, x.shape[-1])
        return self.booster.predict(flat, raw_score=True, num_threads=1).reshape(x.shape[:-1])

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(raw score (n,), per-signal contributions (n, 5), bias (n,)) for feature rows (n, F); exact TreeSHAP."""
        contrib = np.asarray(self.booster.predict(x, pred_contrib=True, num_threads=1), dtype=np.float64)
        per_feature, bias = contrib[:, :-1], contrib[:, -1]
        return per_feature.sum(1) + bias, per_feature @ self.groups, bias
