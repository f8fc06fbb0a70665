"""Issue 24's month-scale store: `make bench-month` (not part of `make test`).

    python benchmarks/month.py [--events 1000000 5000000 20000000] [--dir /tmp/bench-month] [--seed 0]

For each size: a seeded REES46-shaped month (fincommerce.offline.synthetic_log, 30 days) is generated,
imported through `Workbench.import_events` (one REES46 CSV per day), then measured phase by phase, each in
a fresh process (month_phases.py) so every RSS figure is that phase's own. Prints one table, each figure
beside its target, with a column per size so the slope shows; writes benchmarks/results/month.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PHASES = ("gen", "import", "open", "exact", "kill", "reopen")
# (key, label, unit, target text, check) in the order printed
ROWS: list[tuple[str, str, str, str, Any]] = [
    ("users", "users in the month", "", ">= 1M at 20M", None),
    ("products", "products in the month", "", ">= 50k", lambda v: v >= 50_000),
    ("generate_s", "generate the Parquet log", "s", "", None),
    ("texts", "distinct texts to embed (products + behaviour)", "", "", None),
    ("embed_floor_s", "  embedding floor: those texts at the raw encode rate", "s", "", None),
    ("import_s", "import wall time (import_events, day by day)", "s", "<= 1800 at 20M", lambda v: v <= 1800),
    ("import_rate", "  import rate", "ev/s", "", None),
    ("peak_rss_mb", "import peak RSS (model included)", "MB", "<= 5120", lambda v: v <= 5120),
    ("rss_slope_mb_per_m", "  RSS slope during the import", "MB/1M ev", "~0 (streaming)", None),
    ("open_s", "open the store after a clean close", "s", "<= 10", lambda v: v <= 10),
    ("rss_open_mb", "RSS after opening, model loaded", "MB", "<= 4096", lambda v: v <= 4096),
    ("open_after_kill_s", "open after kill -9 (5 min of logging unsaved)", "s", "<= 10", lambda v: v <= 10),
    ("rss_after_kill_mb", "  RSS after that open, model loaded", "MB", "<= 4096", lambda v: v <= 4096),
    ("late_events_kept", "  acknowledged events kept across kill -9 (of 3,500)", "", "3500", lambda v: v == 3500),
    ("disk_per_event_b", "disk per event", "B", "<= 1024", lambda v: v <= 1024),
    ("trending_ms", "live trending p50 (24 h, top 10)", "ms", "<= 1", lambda v: v <= 1),
    ("category_trending_ms", "category trending p50", "ms", "<= 2", lambda v: v <= 2),
    ("first_search_s", "first search (reads the 7-day behaviour window)", "s", "", None),
    ("search_ms", "search_products p50, warm, collaborative + preference", "ms", "<= 100", lambda v: v <= 100),
    ("lookalike_ms", "  of which the look-alike search p50", "ms", "", None),
    ("behaviour_users", "  users in the 7-day behaviour window", "", "", None),
    ("trending_err", "trending vs brute force, 3 random nows (rel.)", "", "<= 1e-9", lambda v: v <= 1e-9),
    ("category_trending_err", "category trending vs brute force (rel.)", "", "<= 1e-9", lambda v: v <= 1e-9),
    ("collaborative_err", "collaborative vs raw-event reference, 100 users", "", "<= 1e-9", lambda v: v <= 1e-9),
    ("purchased share_err", "  purchased share vs reference", "", "<= 1e-9", lambda v: v <= 1e-9),
    ("preference_err", "preference (brand/category) vs reference", "", "<= 1e-9", lambda v: v <= 1e-9),
]


def phase(name: str, folder: Path, events: int, seed: int, products: int) -> dict:
    started = time.perf_counter()
    out = subprocess.run(["nice", sys.executable, str(HERE / "month_phases.py"), name, str(folder), str(events),
                          str(seed), str(products)], capture_output=True, text=True)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if name != "kill" and (out.returncode != 0 or not lines):
        logging.error("phase %s failed (%s):\n%s", name, out.returncode, out.stderr[-3000:])
        return {f"{name}_failed": out.stderr.strip().splitlines()[-1:] or [str(out.returncode)]}
    logging.info("phase %s done in %.0f s", name, time.perf_counter() - started)
    return json.loads(lines[-1]) if lines else {}


def one_size(events: int, root: Path, seed: int, keep: bool, products: int = 0) -> dict:
    folder = root / f"month_{events}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    result: dict[str, Any] = {"events": events}
    for name in PHASES:
        result.update(phase(name, folder, events, seed, products))
        if any(k.endswith("_failed") for k in result):
            break
    if "import_s" in result:
        result["import_rate"] = result["events_logged"] / result["import_s"]
    if "disk_mb" in result:
        result["disk_per_event_b"] = result["disk_mb"] * 2**20 / result["events_logged"]
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def print_table(results: list[dict]) -> None:
    head = f"{'metric':58s} " + " ".join(f"{r['events']:>14,}" for r in results) + f"  {'unit':9s}{'target':16s}"
    print(head + "\n" + "-" * len(head))
    for key, label, unit, target, check in ROWS:
        cells, flags = [], []
        for r in results:
            v = r.get(key)
            cells.append(f"{'-':>14s}" if v is None else f"{v:>14,.0f}" if abs(v) >= 100 else f"{v:>14.3g}")
            if v is not None and check is not None:
                flags.append("PASS" if check(v) else "MISS")
        print(f"{label:58s} " + " ".join(cells) + f"  {unit:9s}{target:16s}{' '.join(flags)}")
    for r in results:
        for k, v in r.items():
            if k.endswith("_failed"):
                print(f"{r['events']:,} events: {k}: {v}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-month"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--products", type=int, default=0, help="0: max(50k, REES46's products per event)")
    parser.add_argument("--keep", action="store_true", help="keep each size's log and store")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "month.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    results = []
    for n in args.events:
        results.append(one_size(n, args.dir, args.seed, args.keep, args.products))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str))
        print_table(results)


if __name__ == "__main__":
    main()
