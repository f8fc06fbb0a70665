import threading

import numpy as np

from fincommerce.embedding import DIMENSION, Embedder


def test_real_model_shape_norm_and_meaning(embedder: Embedder) -> None:
    v = embedder.encode(["laptop for machine learning", "Apple MacBook Pro 16 M3 laptop", "Nike running shoes"])
    assert v.shape == (3, DIMENSION) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1


def test_cache_returns_the_same_vector_and_dedupes(embedder: Embedder) -> None:
    fresh = Embedder(cache_size=2)
    a = fresh.encode(["one text", "one text", "two"])
    assert np.array_equal(a[0], a[1])
    assert np.allclose(fresh.encode_one("one text"), a[0])
    fresh.encode(["three", "four"])
    assert len(fresh._cache) == 2


def test_thread_safe(embedder: Embedder) -> None:
    texts = [f"product number {i}" for i in range(16)]
    expected = embedder.encode_uncached(texts)
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = Embedder().encode(texts)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results.values():
        assert np.allclose(r, expected, atol=1e-5)


def test_numpy_forward_pass_gives_the_models_vectors(embedder: Embedder) -> None:
    """Small calls skip torch: the numpy pass over the same weights must give the same vectors."""
    from fincommerce.embedding import model_path
    from fincommerce.minilm import NumpyMiniLM

    texts = ["laptop for machine learning under 1500", "user purchased Apple MacBook Pro price 1299", "x",
             "é ünïcode 日本語 🔥", "word " * 400]
    fast = NumpyMiniLM.load(model_path()).encode(texts)
    model = embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.abs(fast - model).max() < 1e-5
    assert np.array_equal(embedder.encode_uncached(texts[:2]), fast[:2])  # small calls take the numpy path
