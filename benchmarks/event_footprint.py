"""Disk and RAM per logged event of the store layout this checkout writes (shared vectors vs one per event).

    python benchmarks/event_footprint.py 100000      # table + results/event_footprint.json

Logs N events through the public `log_interactions` (2,000 products, four types, REES46-like repetition of
behaviour sentences), closes, then reopens the store in a fresh process and reports the RSS the open added
(VmRSS and RssAnon) and the folder's size. Run it on main and on this branch to compare layouts.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
T_END = 1_760_000_000.0


def rss_kb() -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["RssAnon"].split()[0])


def write(folder: Path, n: int) -> dict:
    import numpy as np

    from fincommerce import Settings, Workbench
    from fincommerce.catalog.generate import generate_catalog

    rng = np.random.default_rng(3)
    products = generate_catalog(2000, seed=2).to_dict("records")
    pick = np.minimum(rng.zipf(1.4, n), 2000) - 1
    kinds = rng.choice(["view", "click", "add_to_cart", "purchase"], n, p=[0.85, 0.08, 0.05, 0.02])
    events = [{"user_id": f"u{rng.integers(n // 20)}", "product_payload": products[p], "interaction_type": k,
               "timestamp": T_END - 30 * 86400 * (1 - i / n), "event_id": f"e{i}"}
              for i, (p, k) in enumerate(zip(pick.tolist(), kinds.tolist()))]
    with Workbench(Settings(store_path=folder)) as wb:
        started = time.perf_counter()
        wb.log_interactions(events, show_progress=False)
        rate = n / (time.perf_counter() - started)
    return {"log_interactions_per_s": rate}


def reopen(folder: Path) -> dict:
    from fincommerce.store import EdgeStore

    before = rss_kb()
    started = time.perf_counter()
    store = EdgeStore(folder)
    opened = time.perf_counter() - started
    counted = store.count("interaction_memory")
    after = rss_kb()
    store.close()
    return {"open_s": opened, "events": counted, "rss_mb": (after[0] - before[0]) / 1024,
            "rss_anon_mb": (after[1] - before[1]) / 1024}


def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="event_footprint_") as tmp:
        folder = Path(tmp) / "store"
        row: dict = {"events": n}
        for step in ("write", "reopen"):
            out = subprocess.run([sys.executable, __file__, "--child", step, str(folder), str(n)],
                                 capture_output=True, text=True, check=True)
            row.update(json.loads(out.stdout.strip().splitlines()[-1]))
        files = [f.stat() for f in folder.rglob("*") if f.is_file()]
        row["disk_mb"] = sum(f.st_size for f in files) / 2**20
        row["disk_allocated_mb"] = sum(f.st_blocks * 512 for f in files) / 2**20  # the engine's files are sparse
    per = 2**20 / n
    print(f"\n{n:,} events (machine shared with other jobs): log_interactions {row['log_interactions_per_s']:,.0f}/s; "
          f"disk {row['disk_mb']:,.0f} MB = {row['disk_mb'] * per:,.0f} B/event (target <= 1,024), of which allocated "
          f"{row['disk_allocated_mb']:,.0f} MB = {row['disk_allocated_mb'] * per:,.0f} B/event; open "
          f"{row['open_s']:.2f} s adds VmRSS {row['rss_mb']:,.0f} MB = {row['rss_mb'] * per:,.0f} B/event, "
          f"RssAnon {row['rss_anon_mb']:,.0f} MB = {row['rss_anon_mb'] * per:,.0f} B/event")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "event_footprint.json").write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        fn = write if sys.argv[2] == "write" else reopen
        print(json.dumps(fn(Path(sys.argv[3]), int(sys.argv[4])) if fn is write else fn(Path(sys.argv[3]))))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
