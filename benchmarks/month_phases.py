"""bench-month's phases; each runs in a fresh process (`month.py` starts them) so its RSS is its own.

    python benchmarks/month_phases.py <phase> <folder> <events> <seed> [products]   # prints one JSON line

gen: the seeded log as Parquet (references) and per-day REES46 CSVs (what `import_events` reads).
import: every day file through `Workbench.import_events`; wall time, peak RSS, the embedding floor.
open / reopen: open the store (after a clean close / after kill -9), RSS with the model loaded, latencies.
exact: trending and behaviour against month_reference. kill: log 5 minutes of traffic, then SIGKILL itself.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.dataset as ds
from month_reference import behaviour_errors, month_span, products, trending_error, window  # noqa: E402
from timing import p50  # noqa: E402

from fincommerce import Settings, Workbench
from fincommerce.config import HOUR
from fincommerce.offline.synthetic_files import write_parquet
from fincommerce.offline.synthetic_log import SyntheticLog
from fincommerce.schema import Product
from fincommerce.tracking.events import format_price

QUERIES = ["samsung smartphone", "apple laptop", "xiaomi headphones", "bosch washer", "cheap tv"]


def write_csvs(log: Path, csv_dir: Path) -> None:
    """One REES46 CSV per day (what `Workbench.import_events` reads) from the month's Parquet log."""
    csv_dir.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pcsv.CSVWriter] = {}
    for batch in ds.dataset(log, format="parquet").to_batches():
        days = pc.strftime(batch["event_time"], format="%Y-%m-%d")
        text = pa.table({**{n: batch[n] for n in batch.schema.names},
                         "event_time": pc.strftime(batch["event_time"], format="%Y-%m-%d %H:%M:%S UTC")})
        for day in pc.unique(days).to_pylist():
            part = text.filter(pc.equal(days, day))
            if day not in writers:
                writers[day] = pcsv.CSVWriter(csv_dir / f"{day}.csv", part.schema,
                                              write_options=pcsv.WriteOptions(quoting_style="needed"))
            writers[day].write_table(part)
    for w in writers.values():
        w.close()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gen(folder: Path, events: int, seed: int, n_products: int | None = None) -> dict:
    started = time.perf_counter()
    synthetic = SyntheticLog(events, 30, seed=seed, products=n_products)
    write_parquet(synthetic, folder / "log")
    took = time.perf_counter() - started
    write_csvs(folder / "log", folder / "csv")
    texts = distinct_texts(folder)  # here, so the import's peak RSS is the import's own
    probe = texts[:: max(1, len(texts) // 2000)][:2000]
    (folder / "texts.json").write_text(json.dumps({"texts": len(texts), "probe": probe}))
    return {"generate_s": took, "users": synthetic.n_users, "products": synthetic.n_products,
            "parquet_mb": sum(p.stat().st_size for p in (folder / "log").glob("*")) / 2**20}


def distinct_texts(folder: Path) -> list[str]:
    """What the import must embed: one product text per product, one behaviour sentence per product and type."""
    lo, hi = month_span(folder / "log")
    df = window(folder / "log", lo, hi)[["product_id", "category_id", "category_code", "brand", "price", "type"]]
    meta = products(df)
    verbs = {"view": "viewed", "add_to_cart": "added to cart", "purchase": "purchased"}
    pairs = df[["product_id", "type"]].drop_duplicates().itertuples(index=False)
    names = {p: (m["name"] if m["name"].lower().startswith(m["brand"].lower()) else f"{m['brand']} {m['name']}")
             for p, m in meta.items()}
    behaviour = {f"user {verbs[k]} {names[p]}" + (f" price {format_price(meta[p]['price'])}" if meta[p]["price"]
                                                   else "") for p, k in pairs}
    return list(dict.fromkeys([Product.from_mapping(m).text() for m in meta.values()] + sorted(behaviour)))


def run_import(folder: Path) -> dict:
    texts = json.loads((folder / "texts.json").read_text())
    wb = Workbench(Settings(store_path=folder / "store"))
    wb.embedder.encode_uncached([f"load the model first {i}" for i in range(16)])
    probe = texts["probe"]
    t = time.perf_counter()
    wb.embedder.encode_uncached(probe)
    rate = len(probe) / (time.perf_counter() - t)
    base = peak_mb()
    started = time.perf_counter()
    logged, rss_after = 0, []
    for path in sorted((folder / "csv").glob("*.csv")):
        logged += wb.import_events(path, show_progress=False).events_logged
        rss_after.append((logged, rss_mb()))
    took = time.perf_counter() - started
    wb.close()
    (n0, r0), (n1, r1) = rss_after[0], rss_after[-1]
    return {"import_s": took, "events_logged": logged, "texts": texts["texts"], "embed_floor_s": texts["texts"] / rate,
            "peak_rss_mb": peak_mb(), "rss_before_import_mb": base,
            "rss_slope_mb_per_m": (r1 - r0) / max(1, n1 - n0) * 1e6, "rss_trace": rss_after[:: 5]}


def run_open(folder: Path, seed: int) -> dict:
    """Open time and RSS (model loaded), disk, latencies; the store is closed cleanly again."""
    t = time.perf_counter()
    wb = Workbench(Settings(store_path=folder / "store"))
    opened = time.perf_counter() - t
    wb.embedder.encode(["load the model"])
    rss = rss_mb()
    now = float(wb.newest_event_time() or 0.0)
    top_cat = wb.get_top_interacted_products(24, 1, now=now)[0]["product_id"]
    category = wb.get_products([top_cat])[top_cat]["categories"][0]
    trend = p50(lambda: wb.get_top_interacted_products(24, 10, now=now), 50)
    cat_trend = p50(lambda: wb.get_top_interacted_products(24, 10, now=now, category=category), 50)
    rng = np.random.default_rng(seed)
    users = sorted(wb.ensure_behaviour(now).users)
    t = time.perf_counter()
    wb.search_products(users[0], QUERIES[0], 5, now=now)
    first_search = time.perf_counter() - t
    calls = iter(range(10**6))

    def search() -> None:
        i = next(calls)
        wb.search_products(users[int(rng.integers(len(users)))], QUERIES[i % len(QUERIES)], 5, now=now)
    search_p50 = p50(search, 30, warmup=len(QUERIES))
    index = wb.ensure_behaviour(now)
    ids = list(wb.get_products([top_cat]))
    lookalike = p50(lambda: index.collaborative(users[int(rng.integers(len(users)))], ids), 30)
    wb.close()
    disk = sum(f.stat().st_size for f in (folder / "store").rglob("*") if f.is_file())
    return {"open_s": opened, "rss_open_mb": rss, "trending_ms": trend * 1e3, "category_trending_ms": cat_trend * 1e3,
            "category": category, "first_search_s": first_search, "search_ms": search_p50 * 1e3,
            "lookalike_ms": lookalike * 1e3, "behaviour_users": len(users), "disk_mb": disk / 2**20}


def run_exact(folder: Path, seed: int) -> dict:
    wb = Workbench(Settings(store_path=folder / "store"))
    lo, hi = month_span(folder / "log")
    rng = np.random.default_rng(seed)
    nows = sorted(float(x) for x in rng.uniform(lo + 2 * 24 * HOUR, hi, 3))
    trend = max(trending_error(wb, folder / "log", now) for now in nows)
    cat = max(trending_error(wb, folder / "log", now, "Smartphone") for now in nows)
    behaviour = behaviour_errors(wb, folder / "log", hi, 100, seed)
    wb.close()
    return {"trending_err": trend, "category_trending_err": cat, **{f"{k}_err": v for k, v in behaviour.items()},
            "nows": nows}


def run_kill(folder: Path) -> dict:
    """5 minutes of a 1M-events-a-day shop after the newest event, then kill -9 (close() never runs)."""
    wb = Workbench(Settings(store_path=folder / "store"))
    now = float(wb.newest_event_time() or 0.0)
    late = [{"event_id": f"late{i}", "user_id": f"k{i % 500}", "product_payload": {"id": f"late{i % 200}",
             "name": "Late Item", "categories": ["Late"]}, "interaction_type": "view",
             "timestamp": now + 1 + i * 0.0857} for i in range(3_500)]
    wb.log_interactions(late, show_progress=False)
    print(json.dumps({"logged": len(late)}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


def run_reopen(folder: Path) -> dict:
    t = time.perf_counter()
    wb = Workbench(Settings(store_path=folder / "store"))
    opened = time.perf_counter() - t
    wb.embedder.encode(["load the model"])
    rss = rss_mb()
    kept = wb.events.count_present([f"late{i}" for i in range(3_500)])
    wb.close()
    return {"open_after_kill_s": opened, "rss_after_kill_mb": rss, "late_events_kept": kept}


if __name__ == "__main__":
    phase, where, n, s = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    n_products = int(sys.argv[5]) if len(sys.argv) > 5 and int(sys.argv[5]) else None
    out = {"gen": lambda: gen(where, n, s, n_products), "import": lambda: run_import(where),
           "open": lambda: run_open(where, s), "exact": lambda: run_exact(where, s), "kill": lambda: run_kill(where),
           "reopen": lambda: run_reopen(where)}[phase]()
    print(json.dumps(out), flush=True)
