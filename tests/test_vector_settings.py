"""The chosen vector settings (float32, engine defaults; see benchmarks/store_options.py): behaviour-vector
search finds the exact float32 top 10, and a shared vector comes back bit for bit (collaborative is exact)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fincommerce.embedding import DIMENSION, Embedder
from fincommerce.store import EdgeStore, PointIn
from fincommerce.tracking.events import VERBS
from fincommerce.tracking.shared_vectors import SharedVectors, text_point_id
from tests.conftest import PRODUCTS


def test_recall_at_10_of_the_chosen_settings_is_exact(tmp_path: Path, embedder: Embedder) -> None:
    rng = np.random.default_rng(4)
    queries = ["laptop for machine learning", "running shoes", "gift", ""]
    texts = [f"user {v} {p['name']} price {p['price']:.0f}" + (f" for {q}" if q else "")
             for p in PRODUCTS for v in VERBS.values() for q in queries]
    base = embedder.encode(texts)

    def mix(k: int) -> np.ndarray:  # behaviour vectors of users: mixes of sentences, as spread as real ones
        a, b, w = rng.integers(0, len(base), k), rng.integers(0, len(base), k), rng.uniform(0, 1, (k, 1))
        v = (w * base[a] + (1 - w) * base[b]).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    points, probes = mix(3000), mix(30)
    with EdgeStore(tmp_path / "s") as store:
        shared = SharedVectors(store, "interaction_memory")
        store.upsert(shared.collection, [PointIn(f"00000000-0000-4000-8000-{i:012d}", points[i])
                                         for i in range(len(points))])
        exact = np.argsort(-(probes @ points.T), axis=1)[:, :10]
        hits = [store.query(shared.collection, q, 10) for q in probes]
        found = [{int(h.id.rsplit("-", 1)[1]) for h in hit} for hit in hits]
        recall = np.mean([len(f & set(want.tolist())) / 10 for f, want in zip(found, exact)])
        assert recall == 1.0
        shared.save(texts[:5], base[:5])
        [got] = store.retrieve(shared.collection, [text_point_id(texts[3])], with_vectors=True)
        assert got.vector.dtype == np.float32 and got.vector.shape == (DIMENSION,)
        assert np.array_equal(got.vector, base[3].astype(np.float32))
        assert np.array_equal(shared.lookup([texts[3]])[0], base[3].astype(np.float32))
