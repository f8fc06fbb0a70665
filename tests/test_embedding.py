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
