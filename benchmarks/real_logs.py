"""Real-log speed: a trending backtest of a 10M-event log, and loading 10M-row Parquet and CSV logs.

    python benchmarks/real_logs.py [--rows 10000000]     # also part of `make bench` (group "logs")

The log is the REES46 October sample (shipped in data/external) tiled with shifted times and remapped
ids, built here only. Each measurement runs in a fresh process and reports its own peak RSS (ru_maxrss).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from timing import recording_report  # noqa: E402  (beside this script)

ROOT = Path(__file__).resolve().parents[1]
TILE_PRODUCT_GROUPS = 20  # copies of the catalogue: tiles cycle through them, so products repeat like a real shop


def tiled_events(rows: int, users: bool = True):  # -> pd.DataFrame, imported lazily so the parent stays light
    """The sample repeated back to back (each copy 2 h 50 min later), users renamed per copy (when wanted:
    the backtest reads no user column), products spread over 20 catalogue copies."""
    import numpy as np
    import pandas as pd

    from fincommerce.tracking.event_table import read_event_table
    from fincommerce.ui.pipeline import REES46_SAMPLE

    base = read_event_table(REES46_SAMPLE).events
    n, span = len(base), float(base.timestamp.max() - base.timestamp.min()) + 60.0
    copies = -(-rows // n)
    k = np.repeat(np.arange(copies), n)[:rows]
    idx = np.tile(np.arange(n), copies)[:rows]
    products = pd.Categorical.from_codes(
        (base.product_id.cat.codes.to_numpy()[idx] + (k % TILE_PRODUCT_GROUPS) * len(base.product_id.cat.categories)),
        [f"{g}-{p}" for g in range(TILE_PRODUCT_GROUPS) for p in base.product_id.cat.categories])
    frame = pd.DataFrame({"product_id": products,
                         "interaction_type": base.interaction_type.to_numpy()[idx],
                         "timestamp": base.timestamp.to_numpy()[idx] + k * span})
    if users:
        frame.insert(0, "user_id", pd.Categorical.from_codes(
            base.user_id.cat.codes.to_numpy()[idx] + k * len(base.user_id.cat.categories),
            [f"{c}-{u}" for c in range(copies) for u in base.user_id.cat.categories]))
    return frame


def child_backtest(rows: int) -> dict:
    from fincommerce.offline import backtest

    events = tiled_events(rows, users=False)
    started = time.perf_counter()
    cols = backtest.LogColumns.from_events(events)
    cut_every = (cols.span_hours - 48) * 60 / 100  # 100 cut points between the first and the last full horizon
    result = backtest.run_backtest(cols, [backtest.seed_predictor()], 24, cut_every, show_progress=False)
    return {"seconds": time.perf_counter() - started, "cuts": len(result.cuts) + result.n_empty_cuts,
            "span_hours": cols.span_hours, "products": len(cols.product_ids)}


def child_write(rows: int, path: str) -> dict:
    events = tiled_events(rows)
    events["timestamp"] = events["timestamp"].round(0)
    if path.endswith(".parquet"):
        events.to_parquet(path)
    else:
        events.to_csv(path, index=False)
    return {"bytes": Path(path).stat().st_size}


def child_load(path: str) -> dict:
    from fincommerce.tracking.event_table import read_event_table

    started = time.perf_counter()
    table = read_event_table(path)
    return {"seconds": time.perf_counter() - started, "rows": len(table.events)}


CHILDREN: dict[str, Callable[..., dict]] = {"backtest": child_backtest, "write": child_write, "load": child_load}


def in_child(*args: str) -> dict:
    """Run one measurement in a fresh interpreter; its JSON plus its peak RSS in MB."""
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_real_logs(report: Callable[..., None], rows: int = 10_000_000) -> None:
    r = in_child("backtest", str(rows))
    report("logs", f"backtest {rows / 1e6:g}M events ({r['span_hours']:.0f} h, {r['products']:,} products), "
                   f"1 half-life × {r['cuts']} cuts", r["seconds"], "s", "<= 60 s", r["seconds"] <= 60)
    report("logs", "backtest peak memory (tiling included)", r["peak_mb"], "MB", "<= 2048 MB", r["peak_mb"] <= 2048)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("parquet", "csv"):
            path = str(Path(tmp) / f"log.{kind}")
            size = in_child("write", str(rows), path)["bytes"]
            r = in_child("load", path)
            report("logs", f"load a {rows / 1e6:g}M-row {kind} log ({size / 1e6:.0f} MB)", r["rows"] / r["seconds"],
                   "rows/s", "stated")
            report("logs", f"load {kind}: peak memory", r["peak_mb"], "MB", "stated")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, *rest = args.child
        result = CHILDREN[name](*[int(x) if x.isdigit() else x for x in rest])
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    rows: list[dict] = []

    report = recording_report(rows, 72)

    bench_real_logs(report, args.rows)
    out = ROOT / "benchmarks" / "results" / "real_logs.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
