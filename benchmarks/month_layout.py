"""A month's store in the layout before and in the Cold, optimized layout, side by side (issue 24).

    python benchmarks/month_layout.py [--log /tmp/bm1/month_1000000/log] [--dir /tmp/month-layout]
    # table + benchmarks/results/month_layout.json

Imports the same REES46-shaped month (a bench-month Parquet log, written out as one CSV per day) through
`Workbench.import_events` twice: once with collections created as the code before this layout created them
(the engine's defaults; `optimize()` leaves such collections alone) and once as `ensure_collection` creates
them now, which optimizes at a file's end. The model is swapped for a text hash during the import (both
layouts store the same points; embedding 87k texts would cost ~540 s per run and compare nothing), so the
import CPU seconds are the import's own work. Then, each in a fresh process: open after a clean close (RSS
before and after the real model's first query), trending / category trending / search latencies with the real
model answering queries, bench-month's exactness checks against the raw log, and kill -9 with 3,500 events
logged after the import. CPU seconds and memory are the comparable figures; wall times are under load.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from month_phases import QUERIES, rss_mb, run_exact, run_kill, run_reopen, write_csvs
from timing import p50

HERE = Path(__file__).resolve().parent
LAYOUTS = ("before", "after")
ROWS = [("import_cpu_s", "import CPU s (hash embedder)"), ("import_s", "  import wall s (under load)"),
        ("optimize_cpu_s", "  of it optimize() CPU s"), ("optimize_s", "  optimize() wall s (under load)"),
        ("peak_rss_mb", "import peak RSS MB (no model)"), ("open_s", "open after a clean close s (under load)"),
        ("rss_open_no_model_mb", "RSS after opening, model excluded MB"),
        ("rss_open_mb", "RSS after opening, model included MB"), ("disk_per_event_b", "disk B per event"),
        ("segments", "interactions segments"), ("trending_ms", "trending p50 ms (under load)"),
        ("category_trending_ms", "category trending p50 ms (under load)"), ("search_ms", "search p50 ms (under load)"),
        ("trending_err", "trending vs brute force (rel.)"), ("category_trending_err", "category trending (rel.)"),
        ("collaborative_err", "collaborative vs reference"), ("purchased share_err", "purchased share vs reference"),
        ("preference_err", "preference vs reference"), ("open_after_kill_s", "open after kill -9 s (under load)"),
        ("rss_after_kill_mb", "RSS after that open, model included MB"),
        ("late_events_kept", "acknowledged events kept across kill -9 (of 3,500)")]


def old_layout() -> None:
    """Collections created as before this layout: the engine's defaults, in-memory payload indexes."""
    import qdrant_edge as qe

    from fincommerce.store import edge

    def config(dimension: int) -> qe.EdgeConfig:
        params = qe.EdgeVectorParams(size=dimension or 1, distance=qe.Distance.Cosine)
        return qe.EdgeConfig(vectors=params if dimension else {"none": params})

    edge.config = config
    edge.index_params = {"keyword": qe.PayloadSchemaType.Keyword, "float": qe.PayloadSchemaType.Float}.get


def hash_embedder():  # noqa: ANN201 - the class needs fincommerce imported first
    from fincommerce.embedding import DIMENSION, Embedder

    class HashEmbedder(Embedder):
        """A text's vector from its hash: deterministic, unit length, no model."""

        def encode_uncached(self, texts, show_progress=False):  # noqa: ANN001, ANN202
            out = np.empty((len(texts), DIMENSION), dtype=np.float32)
            for i, text in enumerate(texts):
                seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
                v = np.random.default_rng(seed).standard_normal(DIMENSION)
                out[i] = v / np.linalg.norm(v)
            return out
    return HashEmbedder()


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_import(folder: Path, csv_dir: Path) -> dict:
    from fincommerce import Settings, Workbench
    from fincommerce.store import EdgeStore

    spent = {"cpu": 0.0, "wall": 0.0}
    plain = EdgeStore.optimize

    def timed(self: EdgeStore, min_new: int = 0) -> None:
        c, t = cpu_s(), time.perf_counter()
        plain(self, min_new)
        spent["cpu"] += cpu_s() - c
        spent["wall"] += time.perf_counter() - t
    EdgeStore.optimize = timed  # type: ignore[method-assign]
    wb = Workbench(Settings(store_path=folder / "store"), embedder=hash_embedder())
    c, t, logged = cpu_s(), time.perf_counter(), 0
    for path in sorted(csv_dir.glob("*.csv")):
        logged += wb.import_events(path, show_progress=False).events_logged
    cpu, took = cpu_s() - c, time.perf_counter() - t
    segments = wb.store._shards[wb.interactions].info().segments_count
    wb.close()
    return {"import_cpu_s": cpu, "import_s": took, "optimize_cpu_s": spent["cpu"], "optimize_s": spent["wall"],
            "events_logged": logged, "segments": segments, "peak_rss_mb": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_open(folder: Path, seed: int) -> dict:
    """month_phases.run_open with the RSS before the model's first call beside the RSS after it."""
    from fincommerce import Settings, Workbench

    t = time.perf_counter()
    wb = Workbench(Settings(store_path=folder / "store"))
    opened = time.perf_counter() - t
    no_model = rss_mb()
    wb.embedder.encode(["load the model"])
    rss = rss_mb()
    now = float(wb.newest_event_time() or 0.0)
    top = wb.get_top_interacted_products(24, 1, now=now)[0]["product_id"]
    category = wb.get_products([top])[top]["categories"][0]
    trend = p50(lambda: wb.get_top_interacted_products(24, 10, now=now), 50)
    cat_trend = p50(lambda: wb.get_top_interacted_products(24, 10, now=now, category=category), 50)
    rng = np.random.default_rng(seed)
    users = sorted(wb.ensure_behaviour(now).users)
    calls = iter(range(10**6))

    def search() -> None:
        i = next(calls)
        wb.search_products(users[int(rng.integers(len(users)))], QUERIES[i % len(QUERIES)], 5, now=now)
    search_p50 = p50(search, 30, warmup=len(QUERIES))
    wb.close()
    disk = sum(f.stat().st_size for f in (folder / "store").rglob("*") if f.is_file())
    return {"open_s": opened, "rss_open_no_model_mb": no_model, "rss_open_mb": rss, "trending_ms": trend * 1e3,
            "category_trending_ms": cat_trend * 1e3, "search_ms": search_p50 * 1e3, "disk_bytes": disk}


def phase(name: str, layout: str, folder: Path, csv_dir: Path, seed: int) -> dict:
    out = subprocess.run(["nice", "-n", "10", sys.executable, __file__, "--phase", name, layout, str(folder),
                          str(csv_dir), str(seed)], capture_output=True, text=True)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if name != "kill" and (out.returncode != 0 or not lines):
        print(f"phase {name} ({layout}) failed:\n{out.stderr[-3000:]}", file=sys.stderr)
        return {f"{name}_failed": out.returncode}
    got = json.loads(lines[-1]) if lines else {}
    print(f"  {layout} {name}: {json.dumps(got)[:300]}", file=sys.stderr, flush=True)
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=Path("/tmp/bm1/month_1000000/log"))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/month-layout"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--phase", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, layout, folder, csv_dir, seed = args.phase
        if layout == "before":
            old_layout()
        folder = Path(folder)
        got = {"import": lambda: run_import(folder, Path(csv_dir)), "open": lambda: run_open(folder, int(seed)),
               "exact": lambda: run_exact(folder, int(seed)), "kill": lambda: run_kill(folder),
               "reopen": lambda: run_reopen(folder)}[name]()
        print(json.dumps(got, default=str), flush=True)
        return
    csv_dir = args.dir / "csv"
    if not any(csv_dir.glob("*.csv")):
        write_csvs(args.log, csv_dir)
    results = {}
    for layout in LAYOUTS:
        folder = args.dir / layout
        subprocess.run(["rm", "-rf", str(folder)], check=True)
        folder.mkdir(parents=True)
        (folder / "log").symlink_to(args.log.resolve())
        r: dict = {}
        for name in ("import", "open", "exact", "kill", "reopen"):
            r.update(phase(name, layout, folder, csv_dir, args.seed))
        if "disk_bytes" in r and r.get("events_logged"):
            r["disk_per_event_b"] = r["disk_bytes"] / r["events_logged"]
        results[layout] = r
    print(f"{'figure':48s}{'before':>14s}{'after':>14s}")
    for key, label in ROWS:
        cells = [results[k].get(key) for k in LAYOUTS]
        print(f"{label:48s}" + "".join(f"{'-':>14s}" if v is None else f"{v:>14,.0f}" if abs(v) >= 100
                                       else f"{v:>14.3g}" for v in cells))
    out = HERE / "results" / "month_layout.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"log": str(args.log), "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
