"""The learned ranker: a LightGBM LambdaRank model over the signals and raw features, explained exactly.

Scores are the model's raw output. Contributions are LightGBM's `pred_contrib` (TreeSHAP): exact
per-feature attributions that sum with the bias to the raw score; they are summed per owning signal
(`features.FEATURE_SIGNAL`), so explanations name the same five signals as the linear formula.
The model file is LightGBM's text format; its feature names must be ones this package can compute.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fincommerce.errors import ValidationError
from fincommerce.schema import SIGNALS
from fincommerce.search.features import CONTEXT_FEATURES, FEATURE_NAMES, signal_groups
from fincommerce.search.model_probe import probe_model
from fincommerce.search.model_text import ModelFormatError, check_model_text

if TYPE_CHECKING:
    import lightgbm as lgb

RANKERS = ("linear", "learned")
MODEL_FILE = "learned_ranker.txt"  # beside the store, like tuned_weights.json


def check_ranker(ranker: Any) -> str:
    if ranker not in RANKERS:
        raise ValidationError("ranker", f"one of {', '.join(repr(r) for r in RANKERS)}", ranker)
    return str(ranker)


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file in path's folder, flush it to disk and rename it over path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LearnedRanker:
    """A trained booster plus the feature names it expects, in order, and an optional linear base.

    score = base · signals + trees(features): the trees are boosted from the tuned linear ranking (LightGBM's
    init_score), so they learn corrections to it. The base's contributions (base_k × signal_k) are exact too.
    """

    def __init__(self, booster: lgb.Booster, source: str = "", base: np.ndarray | None = None) -> None:
        self.booster = booster
        self.feature_names: tuple[str, ...] = tuple(booster.feature_name())
        self.source = source
        self.groups = signal_groups(self.feature_names)  # (F, 5)
        self.base = np.zeros(len(SIGNALS)) if base is None else np.asarray(base, dtype=np.float64)
        missing = [s for s, b in zip(SIGNALS, self.base) if b and s not in self.feature_names]
        if missing:
            raise ValidationError("ranker_model", "a linear base only over signals the model sees", missing)
        self._signal_cols = [self.feature_names.index(s) if s in self.feature_names else -1 for s in SIGNALS]

    @property
    def fingerprint(self) -> str:
        """12 hex digits of the trees and the linear base, not of the training parameters (which name the
        thread count): two trainings that rank alike print the same digits, on any machine."""
        text = self.booster.model_to_string()
        trees = text[: text.find("\nparameters:")] if "\nparameters:" in text else text
        return hashlib.sha256(trees.encode() + self.base.tobytes()).hexdigest()[:12]

    def _base(self, x: np.ndarray) -> np.ndarray:
        """(…, 5) base contributions of feature rows (…, F)."""
        cols = np.stack([x[..., j] if j >= 0 else np.zeros(x.shape[:-1]) for j in self._signal_cols], axis=-1)
        return cols * self.base

    @classmethod
    def load(cls, path: str | Path) -> LearnedRanker:
        """Read a saved model; a missing, corrupt, crafted or foreign model is one clear error naming the file.

        LightGBM's parser can abort or crash the process on a bad file, so the bytes are checked first: against
        the checksum the sidecar recorded, then against the format's invariants, then loaded once in a child
        process; only the same bytes are then parsed here."""
        path = Path(path)
        if not path.is_file():
            raise ValidationError("ranker_model", f"a model file at {path} (02-tune-weights saves it; or use "
                                  "ranker='linear')", "no such file")
        expected = f"a LightGBM model file at {path}"
        sidecar = path.with_suffix(".json")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValidationError("ranker_model", expected, str(exc)) from None
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
            if not isinstance(meta, dict):
                raise ValueError(f"a JSON {type(meta).__name__}, not an object")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValidationError("ranker_model", f"a readable sidecar {sidecar} with five finite base weights",
                                  str(exc)) from None
        recorded = meta.get("sha256")
        if recorded is not None and recorded != hashlib.sha256(data).hexdigest():
            raise ValidationError("ranker_model", f"{expected} whose sha256 matches its sidecar {sidecar.name} "
                                  "(an interrupted or edited save? run 02-tune-weights again)", "a different file")
        try:
            check_model_text(data)
        except ModelFormatError as exc:
            raise ValidationError("ranker_model", expected, str(exc)) from None
        refused = probe_model(data)
        if refused:
            raise ValidationError("ranker_model", expected, refused)
        import lightgbm as lgb  # 1 s with scikit-learn: only commands that load a model pay it

        try:
            booster = lgb.Booster(model_str=data.decode("utf-8"))
        except (UnicodeDecodeError, lgb.basic.LightGBMError, ValueError) as exc:
            raise ValidationError("ranker_model", expected, str(exc)) from None
        names = booster.feature_name()
        unknown = [n for n in names if n not in FEATURE_NAMES]
        if unknown or not names:
            raise ValidationError("ranker_model", f"a model at {path} trained on features among "
                                  f"{', '.join(FEATURE_NAMES)}", unknown or names)
        base = meta.get("base")
        try:
            base = None if base is None else np.array([float(b) for b in base])
            if base is not None and (base.shape != (len(SIGNALS),) or not np.isfinite(base).all()):
                raise ValueError(f"{len(base)} values")
        except (ValueError, TypeError) as exc:
            raise ValidationError("ranker_model", f"a readable sidecar {sidecar} with five finite base weights",
                                  str(exc)) from None
        return cls(booster, str(path), base)

    def save(self, path: str | Path, **metadata: Any) -> Path:
        """The model (LightGBM text) and a JSON sidecar of how it was chosen, with the model's sha256.

        Each file is written whole beside its target and renamed over it, so an interrupted save never leaves a
        half-written model; a model and sidecar from two different saves fail the loader's checksum."""
        path = Path(path)
        text = self.booster.model_to_string(num_iteration=self.booster.best_iteration or -1).encode("utf-8")
        sidecar = json.dumps({"features": list(self.feature_names), "base": [float(b) for b in self.base],
                              "sha256": hashlib.sha256(text).hexdigest(), **metadata}, indent=2, default=float)
        write_atomically(path, text)
        write_atomically(path.with_suffix(".json"), sidecar.encode("utf-8"))
        return path

    def select(self, signals: np.ndarray, raw: np.ndarray | None, raw_names: Sequence[str] = ()) -> np.ndarray:
        """The model's feature matrix from (…, 5) signals and (…, R) raw features named `raw_names`; a context
        feature the caller cannot compute (the live engine computes none) is NaN, LightGBM's missing."""
        from_signals = {n: i for i, n in enumerate(FEATURE_NAMES[:signals.shape[-1]])}
        from_raw = {n: i for i, n in enumerate(raw_names)}
        cols = []
        for n in self.feature_names:
            if n in from_signals:
                cols.append(signals[..., from_signals[n]])
            elif raw is not None and n in from_raw:
                cols.append(raw[..., from_raw[n]])
            elif n in CONTEXT_FEATURES:
                cols.append(np.full(signals.shape[:-1], np.nan))
            else:
                raise ValidationError("ranker_model", f"features this data provides ({', '.join(from_signals)}, "
                                      f"{', '.join(raw_names)})", n)
        return np.stack(cols, axis=-1).astype(np.float64)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Raw scores of feature rows (…, F)."""
        flat = x.reshape(-1, x.shape[-1])
        trees = self.booster.predict(flat, raw_score=True, num_threads=1).reshape(x.shape[:-1])
        return trees + self._base(x).sum(-1)

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(raw score (n,), per-signal contributions (n, 5), bias (n,)) for feature rows (n, F); exact TreeSHAP."""
        return self.feature_contributions(x)[:3]

    def feature_contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`contributions` plus the per-feature ones (n, F): the trees' TreeSHAP plus the linear base's terms."""
        contrib = np.asarray(self.booster.predict(x, pred_contrib=True, num_threads=1), dtype=np.float64)
        per_feature, bias = contrib[:, :-1], contrib[:, -1]
        base = self._base(x)
        per_signal = per_feature @ self.groups + base
        for k, j in enumerate(self._signal_cols):
            if j >= 0:
                per_feature[:, j] += base[:, k]
        return per_signal.sum(1) + bias, per_signal, bias, per_feature
