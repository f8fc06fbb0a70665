"""One contract, every backend (qdrant-edge embedded, qdrant-client): the same assertions run on both."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fincommerce.errors import StoreError
from fincommerce.store import Match, MatchAny, PointIn, Range, Store, point_id
from fincommerce.store.edge import EdgeStore

DIM = 8


def _vec(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0
    v[(i + 1) % DIM] = 0.5
    return v / np.linalg.norm(v)


@pytest.fixture
def filled(store: Store) -> Store:
    store.ensure_collection("c", DIM, {"ts": "float", "user": "keyword", "tags": "keyword"})
    store.ensure_collection("c", DIM, {"ts": "float"})  # idempotent
    store.upsert("c", [PointIn(point_id(f"p{i}"), _vec(i), {"key": f"p{i}", "ts": float(i), "user": f"u{i % 3}",
                                                           "tags": ["even" if i % 2 == 0 else "odd", "all"]})
                       for i in range(20)])
    return store


def test_point_ids_are_deterministic_uuids() -> None:
    assert point_id("prod_123") == point_id("prod_123") != point_id("prod_124")
    assert len(point_id("x")) == 36


def test_count_and_filters(filled: Store) -> None:
    assert filled.count("c") == 20
    assert filled.count("c", [Match("user", "u1")]) == 7
    assert filled.count("c", [Range("ts", gte=5, lte=9)]) == 5
    assert filled.count("c", [Range("ts", gt=5, lt=9)]) == 3
    assert filled.count("c", [Match("tags", "even")]) == 10
    assert filled.count("c", [MatchAny("user", ("u0", "u2"))]) == 13
    assert filled.count("c", [Match("user", "u1"), Range("ts", gte=10)]) == 4
    assert "c" in filled.collections()


def test_query_returns_nearest_first_with_payload(filled: Store) -> None:
    hits = filled.query("c", _vec(3), 3)
    assert hits[0].payload["key"] in {"p3", "p11", "p19"}
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted([h.score for h in hits], reverse=True)
    hits = filled.query("c", _vec(3), 5, [Match("user", "u2")], with_vectors=True)
    assert all(h.payload["user"] == "u2" for h in hits) and hits[0].vector.shape == (DIM,)


def test_scroll_all_filtered_and_ordered(filled: Store) -> None:
    assert len(list(filled.scroll("c", batch_size=7))) == 20
    ordered = [r.payload["ts"] for r in filled.scroll("c", order_by="ts", descending=True)]
    assert ordered == sorted(ordered, reverse=True) and len(ordered) == 20
    top = list(filled.scroll("c", order_by="ts", descending=True, limit=1))
    assert top[0].payload["ts"] == 19.0
    some = list(filled.scroll("c", [Range("ts", gte=15)], fields=["ts"]))
    assert sorted(r.payload["ts"] for r in some) == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert set(some[0].payload) == {"ts"}
    assert len(list(filled.scroll("c", limit=5, batch_size=2))) == 5


def test_retrieve_and_upsert_overwrites(filled: Store) -> None:
    ids = [point_id("p1"), point_id("p2"), point_id("missing")]
    got = filled.retrieve("c", ids, with_vectors=True)
    assert sorted(r.payload["key"] for r in got) == ["p1", "p2"]
    assert np.allclose(got[0].vector, _vec(int(got[0].payload["key"][1:])), atol=1e-5)
    filled.upsert("c", [PointIn(point_id("p1"), _vec(1), {"key": "p1", "ts": 100.0})])
    assert filled.count("c") == 20
    assert filled.retrieve("c", [point_id("p1")])[0].payload["ts"] == 100.0


def test_delete_by_filter_drops_exactly_the_matches(filled: Store) -> None:
    filled.delete("c", [Range("ts", lt=5.0)])
    assert filled.count("c") == 15
    assert sorted(r.payload["ts"] for r in filled.scroll("c")) == [float(i) for i in range(5, 20)]
    with pytest.raises(StoreError, match="give a filter"):
        filled.delete("c", [])
    assert filled.count("c") == 15


def test_payload_only_collections_hold_points_without_vectors(store: Store) -> None:
    store.ensure_collection("events", 0, {"ts": "float"})
    store.upsert("events", [PointIn(point_id(f"e{i}"), None, {"ts": float(i)}) for i in range(5)])
    assert store.count("events", [Range("ts", gte=2.0)]) == 3
    [got] = store.retrieve("events", [point_id("e1")], with_vectors=True)
    assert got.payload == {"ts": 1.0} and got.vector is None


def test_edge_store_survives_reopen(tmp_path: Path) -> None:
    s = EdgeStore(tmp_path / "s")
    s.ensure_collection("c", DIM, {"ts": "float"})
    s.upsert("c", [PointIn(point_id("a"), _vec(0), {"ts": 1.0})])
    s.close()
    s = EdgeStore(tmp_path / "s")
    assert s.collections() == ["c"] and s.count("c", [Range("ts", gte=1)]) == 1
    s.close()


def test_second_process_gets_a_clear_lock_error_fast(tmp_path: Path) -> None:
    holder = EdgeStore(tmp_path / "s")
    holder.ensure_collection("c", DIM, {})
    code = textwrap.dedent(f"""
        import time
        from fincommerce.store.edge import EdgeStore
        from fincommerce.errors import StoreLockedError
        t = time.perf_counter()
        try:
            EdgeStore({str(tmp_path / 's')!r})
        except StoreLockedError as e:
            print(f"{{time.perf_counter() - t:.4f}}|{{e}}")
    """)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    elapsed, message = out.stdout.strip().split("|", 1)
    print(f"lock error after {float(elapsed) * 1000:.2f} ms")
    assert float(elapsed) < 1.0
    assert (
        str((tmp_path / "s").resolve()) in message and "QDRANT_URL" in message and "FINCOMMERCE_STORE_PATH" in message
    )
    assert f"pid {os.getpid()}:" in message and "pytest" in message  # names the holder and its command line
    holder.upsert("c", [PointIn(point_id("a"), _vec(0), {})])  # the holder is unharmed
    assert holder.count("c") == 1
    holder.close()
    EdgeStore(tmp_path / "s").close()  # released on close
    assert time.perf_counter() - started < 60


def test_same_process_second_open_takes_over_and_the_first_says_why(tmp_path: Path) -> None:
    """Run All twice in one kernel: the newer store wins; the older one refuses clearly instead of corrupting."""
    a = EdgeStore(tmp_path / "s")
    a.ensure_collection("c", DIM, {})
    a.upsert("c", [PointIn(point_id("a"), _vec(0), {})])
    b = EdgeStore(tmp_path / "s")
    assert b.count("c") == 1
    with pytest.raises(StoreError, match="newer workbench in this process"):
        a.count("c")
    a.close()  # closing the old one must not release the new one's lock
    b.upsert("c", [PointIn(point_id("b"), _vec(1), {})])
    assert b.count("c") == 2
    b.close()
