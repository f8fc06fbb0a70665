"""The embedded store's segment layout (issue 24): new collections are laid out Cold and optimized after a big
import, stores made by the code before open and read as they are, and an optimize killed mid-way loses nothing."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qdrant_edge as qe
from conftest import PRODUCTS

from fincommerce import Settings, Workbench
from fincommerce.store import EdgeStore, PointIn, Range, point_id
from fincommerce.store import edge as edge_module
from fincommerce.store.layout import SEGMENT_POINTS, max_segment_kb
from fincommerce.tracking import importers

FIXTURE = Path(__file__).parent / "data" / "rees46_sample.csv"
ROOT = Path(__file__).resolve().parents[1]
HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"


def _old_config(dimension: int) -> qe.EdgeConfig:
    """What `ensure_collection` created before the layout: the engine's defaults."""
    params = qe.EdgeVectorParams(size=dimension or 1, distance=qe.Distance.Cosine)
    return qe.EdgeConfig(vectors=params if dimension else {"none": params})


def _old_index(kind: str) -> qe.PayloadSchemaType:
    return {"keyword": qe.PayloadSchemaType.Keyword, "float": qe.PayloadSchemaType.Float}[kind]


def _saved(folder: Path) -> dict:
    return json.loads((folder / "edge_config.json").read_text())


def _info(store: EdgeStore, collection: str) -> Any:
    return store._shards[collection].info()


def test_a_new_collection_is_laid_out_cold_with_bounded_segments_and_on_disk_indexes(tmp_path: Path) -> None:
    with EdgeStore(tmp_path / "s") as store:
        store.ensure_collection("events", 0, {"timestamp": "float"})
        store.ensure_collection("products", 384, {"brand": "keyword", "price": "float"})
        schema = _info(store, "events").payload_schema["timestamp"]
        brand = _info(store, "products").payload_schema["brand"]
    events, products = _saved(tmp_path / "s" / "events"), _saved(tmp_path / "s" / "products")
    for saved, dimension in ((events, 0), (products, 384)):
        assert saved["payload_memory"] == "cold" and saved["id_tracker_memory"] == "cold"
        assert saved["hnsw_config"]["m"] == 0  # exact search, cheap optimize
        assert saved["optimizers"]["indexing_threshold"] == 1
        assert saved["optimizers"]["max_segment_size"] == max_segment_kb(dimension) > 0
    assert max_segment_kb(0) * 1024 // 4 == SEGMENT_POINTS  # the engine counts float32 vector bytes
    assert schema.params.on_disk is True and brand.params.on_disk is True


def test_optimize_compacts_only_above_the_threshold_and_reads_stay_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 384)).astype(np.float32)
    with EdgeStore(tmp_path / "s") as store:
        store.ensure_collection("events", 0, {"timestamp": "float"})
        store.ensure_collection("products", 384, {"brand": "keyword"})
        store.upsert("events", [PointIn(point_id(f"e{i}"), None, {"timestamp": float(i), "user_id": f"u{i % 7}"})
                                for i in range(3000)])
        store.upsert("products", [PointIn(point_id(f"p{i}"), vectors[i], {"brand": f"b{i % 5}"}) for i in range(300)])
        before = [[h.id for h in store.query("products", q, 10)] for q in vectors[:20]]
        store.optimize(min_new=5000)  # 3,000 new points: left mutable
        assert _info(store, "events").indexed_vectors_count == 0
        store.optimize(min_new=1000)
        assert _info(store, "events").indexed_vectors_count == 3000 == _info(store, "events").points_count
        assert _info(store, "products").indexed_vectors_count == 0  # 300 new points: below 1,000
        store.optimize()
        assert _info(store, "products").indexed_vectors_count == 300
        assert [[h.id for h in store.query("products", q, 10)] for q in vectors[:20]] == before  # still exact
        assert store.count("events", [Range("timestamp", lt=1000.0)]) == 1000
        assert [r.payload["timestamp"] for r in store.scroll("events", order_by="timestamp", limit=3)] == [0, 1, 2]
        [got] = store.retrieve("events", [point_id("e5")], with_vectors=True)
        assert got.vector is None and got.payload == {"timestamp": 5.0, "user_id": "u5"}  # the placeholder stays hidden
    with EdgeStore(tmp_path / "s") as store:
        assert store.count("events") == 3000 and store.count("products") == 300


def test_a_store_made_before_the_layout_opens_reads_and_grows_as_it_is(
        tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store"
    with monkeypatch.context() as old:  # the store as the code before this layout made it
        old.setattr(edge_module, "config", _old_config)
        old.setattr(edge_module, "index_params", _old_index)
        with Workbench(Settings(store_path=path), embedder=embedder) as wb:
            first = wb.import_events(FIXTURE, show_progress=False).events_logged
            assert wb.store._laid_out == set() == wb.store._placeholder  # nothing optimized, no placeholder
    configs = {c.name: _saved(c) for c in path.iterdir() if (c / "edge_config.json").exists()}
    assert configs and all("optimizers" not in c and "hnsw_config" not in c for c in configs.values())
    monkeypatch.setattr(importers, "OPTIMIZE_AFTER", 1)
    with Workbench(Settings(store_path=path), embedder=embedder) as wb:
        assert wb.store.count(wb.interactions) == first and wb.events.count_present(["x"]) == 0
        assert len(wb.events.table()) == first
        wb.log_interactions([{"event_id": "late", "user_id": "u1", "product_payload": PRODUCTS[0],
                              "interaction_type": "purchase", "timestamp": 1569888000.0}], show_progress=False)
        wb.store.optimize()  # old collections are left as the engine made them
        assert wb.store._laid_out == set()
        top = wb.get_top_interacted_products(24, 100, now=1569888000.0 + 3600)
        assert "mbp" in [t["product_id"] for t in top]
    after = {c.name: _saved(c) for c in path.iterdir() if (c / "edge_config.json").exists()}
    assert after.keys() == configs.keys()  # the engine writes its resolved defaults back; the layout is not added
    assert all("optimizers" not in c and "hnsw_config" not in c for c in after.values())
    with Workbench(Settings(store_path=path), embedder=embedder) as wb:
        assert wb.store.count(wb.interactions) == first + 1


def _month_file(tmp_path: Path, n: int) -> Path:
    """n REES46 rows, one a minute (the engine optimizes nothing under 1 KB of vectors: 256 events)."""
    rows = [f"2019-10-{1 + i // 1440:02d} {i // 60 % 24:02d}:{i % 60:02d}:00 UTC,{('view', 'cart')[i % 2]},"
            f"{100 + i % 7},2053,electronics.smartphone,acme,{10 + i % 9}.50,{500 + i % 11},s{i % 3}" for i in range(n)]
    path = tmp_path / "month.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_an_import_above_the_threshold_optimizes_and_a_small_one_does_not(
        tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importers, "OPTIMIZE_AFTER", 2000)
    with Workbench(Settings(store_path=tmp_path / "a"), embedder=embedder) as wb:
        wb.import_events(_month_file(tmp_path, 1000), show_progress=False)  # below OPTIMIZE_AFTER
        assert _info(wb.store, wb.interactions).indexed_vectors_count == 0
    monkeypatch.setattr(importers, "OPTIMIZE_AFTER", 500)
    with Workbench(Settings(store_path=tmp_path / "b"), embedder=embedder) as wb:
        logged = wb.import_events(_month_file(tmp_path, 1000), show_progress=False).events_logged
        assert logged == 1000
        info = _info(wb.store, wb.interactions)
        assert info.indexed_vectors_count == info.points_count == logged
        table = wb.events.table()
    with Workbench(Settings(store_path=tmp_path / "b"), embedder=embedder) as wb:
        assert wb.events.table().equals(table) and wb.trending.n_events == logged


KILLED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import PRODUCTS
    from fincommerce import Settings, Workbench
    wb = Workbench(Settings(store_path={store!r}))
    with open({acks!r}, "a") as out:
        for i in range(100_000):
            batch = [{{"event_id": f"e{{i}}-{{j}}", "user_id": f"u{{j % 7}}", "product_payload": PRODUCTS[(i + j) % 8],
                      "interaction_type": "view", "timestamp": 1_700_000_000 + i}} for j in range(200)]
            wb.log_interactions(batch, show_progress=False)
            out.write("\\n".join(e["event_id"] for e in batch) + "\\n")
            out.flush()
            if i % 5 == 4:
                wb.store.optimize()  # what an import's end does
""")


@pytest.mark.parametrize("moment", [0.3, 1.7])
def test_sigkill_while_optimizing_loses_no_acknowledged_event(tmp_path: Path, embedder, moment: float) -> None:
    store, acks = tmp_path / "store", tmp_path / "acks.txt"
    proc = subprocess.Popen([sys.executable, "-c", KILLED.format(tests=str(ROOT / "tests"), store=str(store),
                                                                 acks=str(acks))], stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and (not acks.exists() or len(acks.read_text().splitlines()) < 3000):
        time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    time.sleep(moment)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acked = [line for line in acks.read_text().splitlines() if line]
    with Workbench(Settings(store_path=store), embedder=embedder) as wb:  # opens without repair
        assert wb.events.count_present(acked) == len(acked) >= 3000
        assert wb.store.count(wb.interactions) == wb.trending.n_events
