"""qdrant-edge storage options side by side, for the interactions collection (issue 24, item 2).

    python benchmarks/store_options.py 100000        # table + benchmarks/results/store_options.json

Each option runs in two fresh processes: one writes N behaviour points with today's 11-key payload (ingest
rate, then disk), one reopens the shard and answers 100 nearest-neighbour queries (open time, RSS added,
recall@10 against an exact float32 numpy search over the very vectors written). Vectors are real model
embeddings of behaviour sentences, each point a random mix of two of them, so their spread (0.4–0.9 cosine
between points) is the real one rather than that of random unit vectors.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
QUERIES = 100
CHUNK = 2048

OPTIONS: dict[str, dict[str, str]] = {  # name → what differs from the engine's defaults
    "float32 Cached (today)": {},
    "float32 Cold": {"memory": "Cold"},
    "float16 Cached": {"datatype": "Float16"},
    "float16 Cold": {"datatype": "Float16", "memory": "Cold"},
    "uint8 Cold": {"datatype": "Uint8", "memory": "Cold"},
    "int8 SQ in RAM + float32 Cold, rescore": {"memory": "Cold", "quantization": "int8", "optimize": "1"},
    "float16 Cold, payload Cached": {"datatype": "Float16", "memory": "Cold", "payload": "Cached"},
    "float16 Cold, optimized": {"datatype": "Float16", "memory": "Cold", "optimize": "1"},
}


def rss_kb() -> tuple[int, int]:
    """(VmRSS, RssAnon) in kB: RSS also counts touched mmap pages, RssAnon only the process's own memory."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["RssAnon"].split()[0])


def vectors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(points, queries) built from real behaviour-sentence embeddings, cached in /tmp per (n, seed)."""
    cache = Path(tempfile.gettempdir()) / f"store_options_{n}_{seed}.npz"
    if cache.exists():
        got = np.load(cache)
        return got["points"], got["queries"]
    from fincommerce.catalog.generate import generate_catalog
    from fincommerce.embedding import Embedder
    from fincommerce.tracking.events import VERBS

    rng = np.random.default_rng(seed)
    products = generate_catalog(600, seed=seed).to_dict("records")
    queries = ["laptop for machine learning", "running shoes", "gift for mom", "cheap phone", ""]
    texts = [f"user {verb} {p['name']} price {p['price']:.0f}" + (f" for {q}" if q else "")
             for p in products for verb, q in zip(VERBS.values(), rng.choice(queries, 4))]
    base = Embedder().encode_uncached(texts).astype(np.float32)

    def mix(k: int) -> np.ndarray:
        a, b = rng.integers(0, len(base), k), rng.integers(0, len(base), k)
        w = rng.uniform(0.0, 1.0, (k, 1)).astype(np.float32)
        v = w * base[a] + (1 - w) * base[b]
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    points, qs = mix(n), mix(QUERIES)
    np.savez(cache, points=points, queries=qs)
    return points, qs


def config(option: dict[str, str]):  # noqa: ANN201 - qdrant_edge types stay inside this script
    import qdrant_edge as qe

    params: dict = {"size": 384, "distance": qe.Distance.Cosine}
    if "datatype" in option:
        params["datatype"] = getattr(qe.VectorStorageDatatype, option["datatype"])
    if "memory" in option:
        params["memory"] = getattr(qe.Memory, option["memory"])
    quant = (qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Cached)
             if option.get("quantization") == "int8" else None)
    payload = getattr(qe.Memory, option["payload"]) if "payload" in option else None
    return qe.EdgeConfig(vectors=qe.EdgeVectorParams(**params), quantization_config=quant, payload_memory=payload)


def build(folder: Path, option: dict[str, str], n: int, seed: int) -> dict:
    import qdrant_edge as qe

    points, _ = vectors(n, seed)
    payload = {"event_id": "", "user_id": "", "product_id": "", "interaction_type": "view", "weight": 0.1,
               "timestamp": 0.0, "query": "laptop", "product_name": "Acme Laptop 15", "brand": "Acme",
               "categories": ["electronics", "computers"], "price": 999.0}
    shard = qe.EdgeShard.create(str(folder), config(option))
    shard.update(qe.UpdateOperation.create_field_index("timestamp", qe.PayloadSchemaType.Float))
    lists = points.tolist()
    started = time.perf_counter()
    for s in range(0, n, CHUNK):
        batch = [qe.Point(i, lists[i], {**payload, "event_id": f"e{i}", "user_id": f"u{i % 5000}",
                                        "product_id": f"p{i % 3000}", "timestamp": 1.7e9 + i})
                 for i in range(s, min(n, s + CHUNK))]
        shard.update(qe.UpdateOperation.upsert_points(batch))
    ingest = n / (time.perf_counter() - started)
    if option.get("optimize"):
        shard.optimize()
    shard.close()
    return {"ingest_per_s": ingest}


def reopen(folder: Path, option: dict[str, str], n: int, seed: int) -> dict:
    import qdrant_edge as qe

    points, queries = vectors(n, seed)
    exact = np.argsort(-(queries @ points.T), axis=1)[:, :10]
    del points
    before = rss_kb()
    started = time.perf_counter()
    shard = qe.EdgeShard.load(str(folder))
    opened = time.perf_counter() - started
    params = (qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=True, oversampling=2.0))
              if option.get("quantization") else None)
    started = time.perf_counter()
    hits = [shard.query(qe.QueryRequest(limit=10, query=qe.Query.Nearest(q.tolist()), params=params,
                                        with_payload=False, with_vector=False)) for q in queries]
    query_ms = (time.perf_counter() - started) / len(queries) * 1000
    after = rss_kb()
    recall = float(np.mean([len({int(h.id) for h in hit} & set(map(int, want))) / 10
                            for hit, want in zip(hits, exact)]))
    shard.close()
    return {"open_s": opened, "query_ms": query_ms, "recall_at_10": recall,
            "rss_mb": (after[0] - before[0]) / 1024, "rss_anon_mb": (after[1] - before[1]) / 1024}


def child(step: str, folder: str, name: str, n: int, seed: int) -> None:
    fn = build if step == "build" else reopen
    print(json.dumps(fn(Path(folder), OPTIONS[name], n, seed)))


def run(name: str, n: int, seed: int, tmp: Path) -> dict:
    folder = tmp / f"opt{list(OPTIONS).index(name)}"
    row: dict = {"option": name}
    for step in ("build", "reopen"):
        out = subprocess.run([sys.executable, __file__, "--child", step, str(folder), name, str(n), str(seed)],
                             capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        row.update(json.loads(out.stdout.strip().splitlines()[-1]))
        if step == "build":
            disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            row["disk_b_per_point"] = disk / n
    shutil.rmtree(folder)
    return row


def main(n: int, seed: int = 7) -> None:
    vectors(n, seed)  # embed once, before the timed children
    with tempfile.TemporaryDirectory(prefix="store_options_") as tmp:
        rows = [run(name, n, seed, Path(tmp)) for name in OPTIONS]
    print(f"\nqdrant-edge options, {n:,} behaviour points, 11-key payload (machine shared with other jobs)")
    head = f"{'option':42} {'ingest/s':>9} {'disk B/pt':>9} {'open s':>7} {'+VmRSS MB':>10} {'+RssAnon MB':>11} " \
           f"{'RSS B/pt':>8} {'query ms':>8} {'recall@10':>9}"
    print(head)
    for r in rows:
        print(f"{r['option']:42} {r['ingest_per_s']:9,.0f} {r['disk_b_per_point']:9,.0f} {r['open_s']:7.2f} "
              f"{r['rss_mb']:10,.0f} {r['rss_anon_mb']:11,.0f} {r['rss_mb'] * 1048576 / n:8,.0f} "
              f"{r['query_ms']:8.1f} {r['recall_at_10']:9.3f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "store_options.json").write_text(json.dumps({"points": n, "seed": seed, "rows": rows}, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
