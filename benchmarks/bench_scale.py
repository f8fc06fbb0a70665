"""Issue 15's live-scale rows: imports, opening a 1M-event store, and the shared-server refresh.

Imported by run_benchmarks.py (groups `import` and `open`); `report` is its table printer.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fincommerce import Settings, Workbench
from fincommerce.config import HOUR
from fincommerce.embedding import Embedder
from fincommerce.schema import INTERACTION_TYPES, INTERACTION_WEIGHTS, Product
from fincommerce.store import PointIn
from fincommerce.store.edge import EdgeStore
from fincommerce.store.ids import INTERACTION_INDEXES, event_point_ids
from fincommerce.tracking.events import behaviour_text, build_interaction
from fincommerce.tracking.importers import product_from_log
from fincommerce.tracking.rees46 import read_rees46
from fincommerce.trending import top_from_events

Report = Callable[..., None]
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rees46" / "2019-Oct_head_sample.csv"
T_END = 1_790_000_000.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def distinct_import_texts(path: Path) -> tuple[list[str], int, int]:
    """What an import of `path` into an empty store must embed: product texts and behaviour sentences."""
    events = read_rees46(path).events
    products = {p["id"]: p for p in map(product_from_log, events.drop_duplicates("product_id", keep="last")
                                        .to_dict("records"))}
    product_texts = [Product.from_mapping(p).text() for p in products.values()]
    behaviour = [behaviour_text(build_interaction(INTERACTION_WEIGHTS, r.user_id, {**products[r.product_id],
                                                                                   "price": r.price},
                                                  r.interaction_type, timestamp=r.timestamp, event_id=r.event_id,
                                                  now=2e9))
                 for r in events.itertuples(index=False)]
    return list(dict.fromkeys(product_texts + behaviour)), len(product_texts), len(set(behaviour))


def bench_import(emb: Embedder, tmp: Path, report: Report) -> None:
    if not SAMPLE.exists():
        print(f"skipping imports: {SAMPLE} is missing")
        return
    texts, n_products, n_behaviour = distinct_import_texts(SAMPLE)
    emb.encode_uncached([f"load torch and the model first {i}" for i in range(16)])  # neither side pays the load
    t = time.perf_counter()
    emb.encode_uncached(texts)
    raw = time.perf_counter() - t
    with Workbench(Settings(store_path=tmp / "import"), embedder=Embedder()) as wb:  # an empty embedding cache
        t = time.perf_counter()
        first = wb.import_events(SAMPLE, show_progress=False)
        took = time.perf_counter() - t
        t = time.perf_counter()
        again = wb.import_events(SAMPLE, show_progress=False)
        rate = again.rows / (time.perf_counter() - t)
    report("import", f"distinct texts: {n_products:,} product + {n_behaviour:,} behaviour = {len(texts):,}",
           len(texts), "texts")
    report("import", "raw encode of those texts, one batch call", raw, "s")
    report("import", f"first import of the REES46 sample ({first.rows:,} rows, {first.events_logged:,} events)",
           took, "s")
    report("import", "first import / raw encode of its distinct texts", took / raw, "ratio", "<= 1.15",
           took / raw <= 1.15)
    report("import", f"re-import, nothing new ({again.already_present:,} already present)", rate, "rows/s",
           ">= 20,000", rate >= 20_000)


def fill_events(store: EdgeStore, n: int, n_products: int, span_hours: float, rng: np.random.Generator
                ) -> tuple[np.ndarray, list[str], list[str]]:
    """n events with the payload the event log writes, spread over `span_hours` before T_END."""
    vectors = rng.standard_normal((64, 384)).astype(np.float32)
    pool = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).tolist()
    ts = np.round(np.sort(T_END - rng.uniform(0, span_hours * HOUR, n)), 3)
    prods = [f"p{i}" for i in rng.integers(0, n_products, n)]
    types = [INTERACTION_TYPES[i] for i in rng.choice(4, size=n, p=[0.7, 0.2, 0.07, 0.03])]
    for s in range(0, n, 10_000):
        ids = [f"ev{i}" for i in range(s, min(n, s + 10_000))]
        store.upsert("interaction_memory", [PointIn(pid, pool[i % 64], {
            "event_id": eid, "user_id": f"u{i % 50_000}", "product_id": prods[i], "interaction_type": types[i],
            "weight": INTERACTION_WEIGHTS[types[i]], "timestamp": float(ts[i]), "query": "",
            "product_name": f"Product {prods[i]}", "brand": "Acme", "categories": [f"c{int(prods[i][1:]) % 20}"],
            "price": 10.0}) for i, eid, pid in zip(range(s, s + len(ids)), ids, event_point_ids(ids))])
    return ts, prods, types


def _top_error(got: list[dict], expected: list[dict]) -> float:
    assert [r["product_id"] for r in got] == [r["product_id"] for r in expected]
    return max(abs(a["raw_score"] - b["raw_score"]) / b["raw_score"] for a, b in zip(got, expected))


def bench_open(emb: Embedder, tmp: Path, report: Report, n: int = 1_000_000) -> None:
    """A store of n events over 72 h, 10k products: open a workbench on it, then refresh as a server worker."""
    rng = np.random.default_rng(7)
    store = EdgeStore(tmp / "open1m")
    store.ensure_collection("interaction_memory", 384, INTERACTION_INDEXES)
    t = time.perf_counter()
    ts, prods, types = fill_events(store, n, 10_000, 72, rng)
    rate = n / (time.perf_counter() - t)
    report("open", f"fill the store: {n:,} events over 72 h, 10k products (engine upsert)", rate, "events/s")
    store.close()
    settings = Settings(store_path=tmp / "open1m")
    before = rss_mb()
    t = time.perf_counter()
    wb = Workbench(settings, embedder=emb)
    cold = time.perf_counter() - t
    grown = rss_mb() - before
    in_window = wb.trending.n_events
    now = float(ts[-1])
    expected = top_from_events(ts, prods, types, None, now, 24 * HOUR, wb.trending.weights, wb.trending.half_lives, 10)
    error = _top_error(wb.get_top_interacted_products(24, 10, now=now), expected)
    t = time.perf_counter()
    wb.close()
    closing = time.perf_counter() - t
    t = time.perf_counter()
    wb = Workbench(settings, embedder=emb)
    warm = time.perf_counter() - t
    error = max(error, _top_error(wb.get_top_interacted_products(24, 10, now=now), expected))
    wb.popularity.checkpoint_seconds = float("inf")  # no save before the kill below
    late = [{"event_id": f"k{i}", "user_id": f"u{i % 500}", "product_payload": {"id": f"p{i % 200}", "name": "x",
             "categories": ["c1"]}, "interaction_type": "view", "timestamp": now + i * 0.0857} for i in range(3_500)]
    wb.log_interactions(late, show_progress=False)  # 5 minutes of a store logging 1M events a day
    wb.store.close()  # kill -9: close() never runs
    t = time.perf_counter()
    wb = Workbench(settings, embedder=emb)
    killed = time.perf_counter() - t
    report("open", f"open a workbench on {n:,} events over 72 h ({in_window:,} retained), after a close", warm, "s",
           "<= 5 s", warm <= 5)
    report("open", "  after kill -9, 5 min of logging (3,500 events) after the last checkpoint", killed, "s",
           "<= 5 s", killed <= 5)
    report("open", "  the first open of a store with no checkpoint (reads 48 h, then saves one)", cold, "s")
    report("open", "  close (saves the trending checkpoint beside the store)", closing, "s")
    report("open", "memory: process RSS growth during the first open (engine + index)", grown, "MB")
    report("open", "memory: trending index arrays", wb.trending.memory_bytes() / 2**20, "MB")
    report("open", "largest relative error of both opened indexes vs brute force", error, "", "<= 1e-9", error <= 1e-9)
    bench_refresh(emb, tmp, wb.store, report, late[-1]["timestamp"])


def bench_refresh(emb: Embedder, tmp: Path, store: EdgeStore, report: Report, now: float) -> None:
    """A worker of a shared server (the engine stands in for it): full read once, then increments."""
    settings = Settings(store_path=tmp / "unused-refresh", qdrant_url="http://stand-in:6333", refresh_seconds=0)
    worker = Workbench(settings, store=store, embedder=emb)
    feed = worker.popularity.feed
    t = time.perf_counter()
    feed.load(tracking=True)
    full = time.perf_counter() - t
    t = time.perf_counter()
    feed.refresh()
    idle = time.perf_counter() - t
    new = [{"event_id": f"late{i}", "user_id": f"w{i % 50}", "product_payload": {"id": f"p{i % 500}", "name": "x",
            "categories": ["c1"]}, "interaction_type": "click", "timestamp": now + 1 + i * 0.1} for i in range(1000)]
    other = Workbench(Settings(store_path=tmp / "unused-other"), store=worker.store, embedder=emb)
    other.log_interactions(new, show_progress=False)  # "another worker" writes 1,000 events
    t = time.perf_counter()
    read = feed.refresh()
    incremental = time.perf_counter() - t
    report("refresh", f"full trending read of the shared store (worker start: {feed.index.n_events:,} events)", full,
           "s")
    report("refresh", f"incremental refresh after another worker wrote 1,000 events (read {read:,})",
           incremental * 1000, "ms")
    report("refresh", "incremental refresh with nothing new", idle * 1000, "ms")
    t = time.perf_counter()
    feed.refresh(check=True)
    checked = time.perf_counter() - t
    report("refresh", f"  a refresh that also counts below the cut (every {feed.check_every}th)", checked * 1000, "ms")
    report("refresh", "full read / incremental refresh", full / incremental, "x")
    at = now + 200
    fresh = Workbench(Settings(store_path=tmp / "unused-fresh"), store=worker.store, embedder=emb)
    error = _top_error(worker.get_top_interacted_products(24, 10, now=at),
                       fresh.get_top_interacted_products(24, 10, now=at))
    report("refresh", "largest relative error, refreshed vs freshly read index", error, "", "<= 1e-9", error <= 1e-9)
    worker.close()
