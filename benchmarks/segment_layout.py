"""Which `max_segment_size` bounds the optimizer's merges (issue 24): a month imported day by day, optimized
after each day, in the store's new layout with two segment bounds, unbounded, and as the engine leaves it.

    python benchmarks/segment_layout.py [--points 1200000] [--rounds 12]   # table + results/segment_layout.json

Points are shaped like the interactions collection's (a 1-d placeholder vector; event_id, user_id, timestamp
and a facts key; the float timestamp index). Each setting writes in one fresh process (`rounds` equal "days",
`optimize()` after each) and opens in another, so the RSS (and its anonymous part) `EdgeShard.load` adds is
that setting's own. The engine counts a segment's size in vector bytes: 4 B a point here (one float32).
What it shows: unbounded, every day's optimize rewrites the whole month (its time grows with the store);
bounded, it rewrites at most one segment's worth.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {  # name → max points per segment (0: unbounded; None: engine defaults, never optimized)
    "engine defaults, never optimized (before)": None,
    "layout, unbounded segments": 0,
    "layout, <= 131,072 points a segment": 131_072,
    "layout, <= 524,288 points a segment": 524_288,
}
BATCH = 5000


def rss_mb() -> tuple[float, float]:
    got = dict(line.split(":", 1) for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:])
    return int(got["Rss"].split()[0]) / 1024, int(got["Anonymous"].split()[0]) / 1024


def config(max_points: int | None):  # noqa: ANN201 - qdrant_edge is imported in the child only
    import qdrant_edge as qe

    vectors = qe.EdgeVectorParams(size=1, distance=qe.Distance.Cosine)
    if max_points is None:
        return qe.EdgeConfig(vectors=vectors)
    return qe.EdgeConfig(
        vectors=vectors, payload_memory=qe.Memory.Cold, id_tracker_memory=qe.Memory.Cold,
        hnsw_config=qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000),
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1, max_segment_size=max_points * 4 // 1024 or None))


def write(max_points: int | None, path: str, points: int, rounds: int) -> dict:
    import qdrant_edge as qe

    shard = qe.EdgeShard.create(path, config(max_points))
    index = qe.PayloadSchemaType.Float if max_points is None else qe.FloatIndexParams(on_disk=True)
    shard.update(qe.UpdateOperation.create_field_index("timestamp", index))
    per_round, optimize_s = points // rounds, []
    for r in range(rounds):
        for a in range(r * per_round, (r + 1) * per_round, BATCH):
            shard.update(qe.UpdateOperation.upsert_points([
                qe.Point(i, [1.0], {"event_id": f"ev-{i:012d}", "user_id": f"user{i % 70_000}",
                                    "timestamp": 1.57e9 + i * 2.6, "facts": i % 90_000})
                for i in range(a, min((r + 1) * per_round, a + BATCH))]))
        shard.flush()
        started = time.process_time()
        if max_points is not None:
            shard.optimize()
        optimize_s.append(time.process_time() - started)
    segments = shard.info().segments_count
    shard.close()
    return {"optimize_cpu_s": sum(optimize_s), "last_optimize_cpu_s": optimize_s[-1], "segments": segments}


def read(path: str, points: int) -> dict:
    import qdrant_edge as qe

    before = rss_mb()
    started = time.perf_counter()
    shard = qe.EdgeShard.load(path)
    took = time.perf_counter() - started
    after = rss_mb()
    count = shard.count(qe.CountRequest(exact=True))
    half = shard.count(qe.CountRequest(exact=True, filter=qe.Filter(must=[qe.FieldCondition(
        key="timestamp", range=qe.RangeFloat(lt=1.57e9 + points // 2 * 2.6))])))
    shard.close()
    disk = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return {"open_s": took, "rss_b": (after[0] - before[0]) * 2**20 / points,
            "anon_b": (after[1] - before[1]) * 2**20 / points, "disk_b": disk / points, "count": count,
            "half": half}


def run(max_points: int | None, folder: Path, points: int, rounds: int, phase: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(max_points), str(folder), str(points),
                          str(rounds), phase], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_200_000)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, path, points, rounds, phase = args.child
        max_points = None if size == "None" else int(size)
        got = write(max_points, path, int(points), int(rounds)) if phase == "write" else read(path, int(points))
        print(json.dumps(got))
        return
    rows = []
    print(f"{args.points:,} points in {args.rounds} rounds, optimize() after each (CPU s; machine shared)")
    print(f"{'setting':<44}{'opt CPU s':>10}{'last':>7}{'segs':>6}{'open s':>8}{'RSS B/pt':>10}{'anon B/pt':>10}"
          f"{'disk B/pt':>10}")
    for name, max_points in SETTINGS.items():
        folder = Path(tempfile.mkdtemp(prefix="segment-layout-")) / "shard"
        try:
            row = {"setting": name, "max_points": max_points,
                   **run(max_points, folder, args.points, args.rounds, "write"),
                   **run(max_points, folder, args.points, args.rounds, "read")}
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
        assert row["count"] == args.points and row["half"] == args.points // 2, row
        rows.append(row)
        print(f"{name:<44}{row['optimize_cpu_s']:>10.1f}{row['last_optimize_cpu_s']:>7.2f}{row['segments']:>6}"
              f"{row['open_s']:>8.2f}{row['rss_b']:>10.0f}{row['anon_b']:>10.0f}{row['disk_b']:>10.0f}", flush=True)
    out = Path(__file__).resolve().parent / "results" / "segment_layout.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"points": args.points, "rounds": args.rounds, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
