"""all-MiniLM-L6-v2 in numpy: the model's own weights and tokenizer, the maths of sentence-transformers.

A search embeds one short query: a forward pass of ~10 tokens takes milliseconds, while importing torch and
sentence-transformers takes 3–6 s of every `fincommerce search`. Batches keep using torch (`embedding`),
which is faster for thousands of texts; tests hold both to the same vectors.
"""
from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)  # Abramowitz & Stegun 7.1.26
_LOADED: dict[Path, NumpyMiniLM] = {}
_LOCK = threading.Lock()
log = logging.getLogger(__name__)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (below float32 resolution of the activations), vectorised."""
    z = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (_ERF_A[0] + t * (_ERF_A[1] + t * (_ERF_A[2] + t * (_ERF_A[3] + t * _ERF_A[4]))))
    return np.sign(x) * (1.0 - poly * np.exp(-z * z))


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU, as torch computes it for hidden_act="gelu"."""
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(np.float32)


class NumpyMiniLM:
    """Mean-pooled, normalised BERT embeddings (modules.json: Transformer → mean Pooling → Normalize)."""

    def __init__(self, path: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        log.debug("Loading all-MiniLM-L6-v2 from %s for numpy inference (a few texts at a time)", path)
        config = json.loads((path / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.w = load_file(str(path / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        max_len = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer.enable_truncation(int(max_len))
        self.tokenizer.no_padding()  # one text at a time: no padding, so no attention mask is needed

    @classmethod
    def load(cls, path: Path) -> NumpyMiniLM:
        with _LOCK:
            if path not in _LOADED:
                _LOADED[path] = cls(path)
            return _LOADED[path]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.LayerNorm.weight"], self.w[f"{name}.LayerNorm.bias"], self.eps)

    def _forward(self, ids: list[int]) -> np.ndarray:
        n, w = len(ids), self.w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings")
        d = x.shape[1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (self._dense(x, f"{p}.attention.self.{m}").reshape(n, self.heads, d).transpose(1, 0, 2)
                       for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / np.float32(math.sqrt(d))
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            x = self._norm(x + self._dense(context.transpose(1, 0, 2).reshape(n, -1), f"{p}.attention.output.dense"),
                           f"{p}.attention.output")
            hidden = _gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = self._norm(x + self._dense(hidden, f"{p}.output.dense"), f"{p}.output")
        pooled = x.mean(0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 (n, 384), one forward pass per text."""
        out = np.zeros((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
        for i, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            out[i] = self._forward(encoding.ids)
        return out
