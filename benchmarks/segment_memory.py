"""RSS a qdrant-edge shard of event-shaped points adds when opened, per storage setting (issue 24's next step).

    python benchmarks/segment_memory.py [--points 300000]   # table + benchmarks/results/segment_memory.json

Points are shaped like the interactions collection's (a 1-d placeholder vector; event_id, user_id, timestamp and
a facts key; keyword and float payload indexes). Each setting writes in one fresh process and opens in another,
so the RSS (and its anonymous part) added by `EdgeShard.load` is that setting's own. What it shows: a shard that is
never optimized keeps its mutable segment in memory whatever the memory placement says; after `optimize()` the
placement (payload and id tracker Cold, indexes on disk) decides.
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

SETTINGS = {  # name → flags: optimize, cold payload + id tracker, on-disk payload indexes
    "engine defaults (today)": "",
    "optimized": "o",
    "Cold payload + id tracker, on-disk indexes": "cd",
    "optimized, Cold payload + id tracker, on-disk indexes": "ocd",
}
BATCH = 5000


def rss_mb() -> tuple[float, float]:
    got = dict(line.split(":", 1) for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:])
    return int(got["Rss"].split()[0]) / 1024, int(got["Anonymous"].split()[0]) / 1024


def child(flags: str, path: str, points: int, phase: str) -> dict:
    import qdrant_edge as qe

    cold = {"payload_memory": qe.Memory.Cold, "id_tracker_memory": qe.Memory.Cold} if "c" in flags else {}
    optimizers = {"optimizers": qe.EdgeOptimizersConfig(indexing_threshold=1)} if "o" in flags else {}
    config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=1, distance=qe.Distance.Cosine), **cold, **optimizers)
    if phase == "write":
        shard = qe.EdgeShard.create(path, config)
        disk = "d" in flags
        shard.update(qe.UpdateOperation.create_field_index(
            "timestamp", qe.FloatIndexParams(on_disk=True) if disk else qe.PayloadSchemaType.Float))
        shard.update(qe.UpdateOperation.create_field_index(
            "user_id", qe.KeywordIndexParams(on_disk=True) if disk else qe.PayloadSchemaType.Keyword))
        for a in range(0, points, BATCH):
            shard.update(qe.UpdateOperation.upsert_points([
                qe.Point(i, [1.0], {"event_id": f"ev-{i:012d}", "user_id": f"user{i % 70_000}",
                                    "timestamp": 1.57e9 + i * 2.6, "facts": i % 90_000})
                for i in range(a, min(points, a + BATCH))]))
        started = time.perf_counter()
        if "o" in flags:
            shard.optimize()
        took = time.perf_counter() - started
        shard.close()
        return {"optimize_s": took}
    before = rss_mb()
    started = time.perf_counter()
    shard = qe.EdgeShard.load(path)
    took = time.perf_counter() - started
    after = rss_mb()
    count = shard.count(qe.CountRequest(exact=True))
    shard.close()
    disk = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return {"open_s": took, "rss_b": (after[0] - before[0]) * 2**20 / points,
            "anon_b": (after[1] - before[1]) * 2**20 / points, "disk_b": disk / points, "count": count}


def run(flags: str, folder: Path, points: int, phase: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", flags or "-", str(folder), str(points), phase],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        flags, path, points, phase = args.child
        print(json.dumps(child(flags.strip("-"), path, int(points), phase)))
        return
    rows = []
    print(f"{'setting':<56}{'optimize s':>11}{'open s':>8}{'RSS B/pt':>10}{'anon B/pt':>10}{'disk B/pt':>10}")
    for name, flags in SETTINGS.items():
        folder = Path(tempfile.mkdtemp(prefix="segment-memory-")) / "shard"
        try:
            row = {"setting": name, **run(flags, folder, args.points, "write"),
                   **run(flags, folder, args.points, "read")}
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
        assert row["count"] == args.points, row
        rows.append(row)
        print(f"{name:<56}{row['optimize_s']:>11.1f}{row['open_s']:>8.2f}{row['rss_b']:>10.0f}{row['anon_b']:>10.0f}"
              f"{row['disk_b']:>10.0f}", flush=True)
    out = Path(__file__).resolve().parent / "results" / "segment_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"points": args.points, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
