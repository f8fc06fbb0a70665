"""Logs of any size (issue 25): the engine-neutral logs layer on generated REES46-shaped Parquet logs.

    nice python benchmarks/logs.py [--rows 10000000,30000000,100000000] [--data /tmp/fincommerce-logs]
                                   [--no-spark] [--sessions-only]   # also `make bench` group "logs"

Logs are generated seeded (fincommerce.offline.synthetic_log: per-day traffic, Zipf product skew), kept in
--data between runs. Every measurement runs in a fresh process and reports its peak RSS (ru_maxrss; for
Spark the JVMs' peaks summed as well). Side by side in one run: DuckDB against today's pandas path on the
smallest log, and Spark standalone (a master and 2 workers on 127.0.0.1) against DuckDB.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from timing import recording_report  # noqa: E402  (beside this script)

ROOT = Path(__file__).resolve().parents[1]
MAX_RSS_MB = 3072
PANDAS_MAX_ROWS = 10_000_000  # today's pandas path holds ~290 B per event: 10M side by side, not more
Report = Callable[..., None]


def child_generate(rows: int, folder: str) -> dict:
    from fincommerce.offline.synthetic_files import write_logs

    started = time.perf_counter()
    write_logs(folder, (rows,), seed=0, show_progress=False)
    return {"seconds": time.perf_counter() - started}


def _summary(con, folder: str) -> tuple[dict, object]:  # noqa: ANN001 - an Ibis backend
    """The scan's summary line, timed; the scan comes back for the trend tables."""
    from fincommerce.logs.report import scan_report
    from fincommerce.logs.scan import scan_log

    started = time.perf_counter()
    scan = scan_log(folder, con=con)
    r = scan_report(scan)
    return {"seconds": time.perf_counter() - started, "rows": r.n_rows, "events": r.n_events, "users": r.n_users,
            "products": r.n_products, "bad": r.n_bad, "t_max": r.t_max}, scan


def _trend(scan, t_max: float) -> dict:  # noqa: ANN001 - a LogScan
    """What 03 computes on a log left in the engine (logs/trends.py), at the log's end: the top-5 list and
    its products' events for the curves, the half-life overlap, the hour-of-day volume, the funnel and the
    window's whole trend table (the coverage); keeping the events in the engine is part of the time."""
    from fincommerce.config import Settings
    from fincommerce.logs import trends
    from fincommerce.trending import TrendingIndex

    index = TrendingIndex.from_settings(Settings())
    started = time.perf_counter()
    events = scan.trend_events  # as 03 does: the events computed once, then ~10 questions asked of them
    top = trends.top_trending(events, t_max, index.window, index.weights, index.half_lives, 5, "", scan.rees46)
    pids = [r["product_id"] for r in top]
    trends.product_names(events, pids, scan.rees46)
    curves = trends.events_of(events, pids)
    trends.half_life_tops(events, t_max, index.window, index.weights, [1, 3, 6, 12, 24], 5)
    trends.hour_of_day_counts(events)
    trends.type_counts(events)
    window = trends.top_trending(events, t_max, index.window, index.weights, index.half_lives, None)
    return {"seconds": time.perf_counter() - started, "table_rows": len(window), "curve_events": len(curves),
            "score_sum": float(sum(r["raw_score"] for r in window))}


def child_duckdb(folder: str) -> dict:
    from fincommerce.logs.engine import connect

    summary, scan = _summary(connect("duckdb"), folder)
    return {"summary": summary, "trend": _trend(scan, summary["t_max"])}


GRID = {"half_lives": [1, 3, 6, 12, 24, 72], "window_hours": [24, 72, 168, 336],  # 05's default parameters
        "weights_grid": [{"view": 1, "click": 1, "add_to_cart": 1, "purchase": 1}],
        "type_half_lives": [{"view": 1, "click": 1, "add_to_cart": 24, "purchase": 72}]}


def child_backtest(folder: str, grid: int) -> dict:
    """05's backtest on the engine: the seed (1 half-life x 1 window) at 200 cuts, or 05's full default grid at
    its default hourly cuts; the scan's summary (t_min, t_max) is timed apart."""
    from fincommerce.logs.report import scan_report
    from fincommerce.logs.scan import scan_log
    from fincommerce.offline import backtest
    from fincommerce.offline.backtest_engine import run_backtest_on_engine

    scan = scan_log(folder)
    r = scan_report(scan)
    span_h = (r.t_max - r.t_min) / 3600
    if grid:
        cands, every = backtest.predictors(**GRID, span_hours=span_h), 60.0
    else:
        cands, every = [backtest.seed_predictor()], (span_h - 48) * 60 / 200
    started = time.perf_counter()
    result = run_backtest_on_engine(scan.events, cands, 24.0, every, r.t_min, r.t_max, show_progress=False)
    return {"seconds": time.perf_counter() - started, "cuts": len(result.cuts) + result.n_empty_cuts,
            "predictors": len(cands)}


def child_pandas(folder: str) -> dict:
    from fincommerce.tracking.event_table import REES46_COLUMNS, read_event_table

    files = sorted(Path(folder).glob("*.parquet"))
    started = time.perf_counter()  # main's reader needs REES46's Parquet names mapped (it recognises only the CSV)
    events = sum(len(read_event_table(f, REES46_COLUMNS).events) for f in files)
    return {"seconds": time.perf_counter() - started, "events": events}


def child_spark(folder: str) -> dict:
    import ibis

    from fincommerce.logs.cluster import LocalCluster
    from fincommerce.logs.spark import spark_session

    started = time.perf_counter()
    with LocalCluster(workers=2) as cluster:
        session = spark_session(cluster.master_url)
        up = time.perf_counter() - started
        summary, scan = _summary(ibis.pyspark.connect(session), folder)
        out = {"startup": up, "summary": summary, "trend": _trend(scan, summary["t_max"])}
        out["jvm_peak_mb"] = sum(_peak_mb(pid) for pid in _jvm_pids(cluster))
        session.stop()
    return out


def _jvm_pids(cluster) -> list[int]:  # noqa: ANN001 - a LocalCluster
    """The driver JVM (our child) and every process in the cluster's process groups (daemons, executors)."""
    import psutil

    from fincommerce.logs.cluster import group_members

    return group_members({p.pid for p in cluster._procs}) + [c.pid for c in psutil.Process().children()]


def _peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child_sessions(folder: str) -> dict:
    """02's session protocol on the engine: its tables (sessions, evaluated ones, contexts, gains, products),
    then the replay's event stream drained as the replay reads it (up to each evaluated session's start)."""
    from fincommerce.logs.scan import scan_log
    from fincommerce.logs.sessions import session_log

    started = time.perf_counter()
    log = session_log(scan_log(folder))
    tables = time.perf_counter()
    streamed = 0
    for start, *_ in log.sessions:
        page = log.events.before(start)
        streamed += 0 if page is None else len(page[0])
    return {"tables_s": tables - started, "stream_s": time.perf_counter() - tables, "sessions": len(log.sessions),
            "products": len(log.products), "streamed": streamed}


CHILDREN: dict[str, Callable[..., dict]] = {"generate": child_generate, "duckdb": child_duckdb,
                                            "backtest": child_backtest, "sessions": child_sessions,
                                            "pandas": child_pandas, "spark": child_spark}


def in_child(*args: str) -> dict:
    """One measurement in a fresh interpreter: its JSON plus its peak RSS in MB."""
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"benchmark child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_log(rows: int, data: Path) -> Path:
    """`synthetic_files`' seeded log of `rows` events under `data` (kept between runs: its marker says done)."""
    folder = data / f"rees46_{rows}"
    if not (folder / "_COMPLETE").is_file():
        in_child("generate", str(rows), str(data))
    return folder


def bench_sessions(report: Report, rows: int, folder: Path) -> None:
    """02's session protocol's table building on DuckDB (target at 100M rows: <= 5 min, <= 3 GB)."""
    m, k = f"{rows / 1e6:g}M", in_child("sessions", str(folder))
    report("logs", f"{m} session protocol's table building (DuckDB): {k['sessions']:,} evaluated sessions, "
                   f"{k['products']:,} products", k["tables_s"], "s", "<= 300 s", k["tables_s"] <= 300)
    report("logs", f"{m}   + the replay's stream drained in session order ({k['streamed']:,} events)",
           k["stream_s"], "s")
    report("logs", f"{m}   its peak RSS (scan, tables and stream) / CPU s {k['cpu_s']:.0f}", k["peak_mb"], "MB",
           "<= 3072 MB", k["peak_mb"] <= MAX_RSS_MB)


def bench_logs(report: Report, sizes: list[int], data: Path, spark: bool = True, full_grid: bool = True,
               sessions_only: bool = False) -> None:
    for i, rows in enumerate(sizes):
        folder, m = ensure_log(rows, data), f"{rows / 1e6:g}M"
        bench_sessions(report, rows, folder)
        if sessions_only:
            continue
        size_mb = sum(f.stat().st_size for f in folder.glob("*.parquet")) / 1e6
        d = in_child("duckdb", str(folder))
        s = d["summary"]
        report("logs", f"{m} Parquet ({size_mb:.0f} MB) summary: {s['rows']:,} rows -> {s['events']:,} events, "
                       f"{s['users']:,} users, {s['products']:,} products; {s['bad']:,} bad", s["seconds"], "s",
               "<= 60 s", s["seconds"] <= 60)
        report("logs", f"{m} 03's trend tables (DuckDB; the scan above not counted)", d["trend"]["seconds"], "s",
               "<= 120 s", d["trend"]["seconds"] <= 120)
        report("logs", f"{m} DuckDB child: CPU seconds (user + system; the machine is shared)", d["cpu_s"], "s")
        report("logs", f"{m} DuckDB summary + trend tables: peak RSS", d["peak_mb"], "MB", "<= 3072 MB",
               d["peak_mb"] <= MAX_RSS_MB)
        for grid in (0, 1) if full_grid else (0,):
            b = in_child("backtest", str(folder), str(grid))
            what = f"full default grid ({b['predictors']} predictors)" if grid else "1 half-life x 1 window"
            limit = 900 if grid else 180
            report("logs", f"{m} 05's backtest on DuckDB, {what} x {b['cuts']} cuts", b["seconds"], "s",
                   f"<= {limit} s", b["seconds"] <= limit)
            report("logs", f"{m}   its peak RSS (scan included) / CPU s {b['cpu_s']:.0f}", b["peak_mb"], "MB",
                   "<= 3072 MB", b["peak_mb"] <= MAX_RSS_MB)
        if i == 0 and rows <= PANDAS_MAX_ROWS:
            p = in_child("pandas", str(folder))
            report("logs", f"{m} today's pandas path: read_event_table ({p['events']:,} events)", p["seconds"], "s")
            report("logs", f"{m} today's pandas path: peak RSS", p["peak_mb"], "MB")
            report("logs", f"{m} today's pandas path: CPU seconds", p["cpu_s"], "s")
            report("logs", f"{m} summary: pandas / DuckDB time", p["seconds"] / s["seconds"], "ratio")
            report("logs", f"{m} summary: pandas / DuckDB peak RSS", p["peak_mb"] / d["peak_mb"], "ratio")
        if spark and i == 0:
            k = in_child("spark", str(folder))
            assert (k["summary"]["events"], k["summary"]["users"]) == (s["events"], s["users"]), (k, s)
            assert abs(k["trend"]["score_sum"] / d["trend"]["score_sum"] - 1) < 1e-9, (k["trend"], d["trend"])
            report("logs", f"{m} Spark standalone (2 workers x 1 core): cluster + session start", k["startup"], "s")
            report("logs", f"{m} Spark summary (same Ibis scan)", k["summary"]["seconds"], "s")
            report("logs", f"{m} Spark trend tables (same SQL)", k["trend"]["seconds"], "s")
            report("logs", f"{m} Spark / DuckDB time, summary", k["summary"]["seconds"] / s["seconds"], "ratio")
            report("logs", f"{m} Spark / DuckDB time, trend tables", k["trend"]["seconds"] / d["trend"]["seconds"],
                   "ratio")
            report("logs", f"{m} Spark peak RSS: driver Python / all JVMs summed", k["peak_mb"], "MB")
            report("logs", f"{m} Spark peak RSS: all JVMs summed (per-JVM peaks)", k["jvm_peak_mb"], "MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000000,30000000,100000000")
    parser.add_argument("--data", type=Path, default=Path("/tmp/fincommerce-logs"))
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--no-grid", action="store_true", help="skip 05's full default grid (the longest)")
    parser.add_argument("--sessions-only", action="store_true", help="only 02's session protocol's tables")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "logs.json")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, *rest = args.child
        result = CHILDREN[name](*[int(x) if x.isdigit() else x for x in rest])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["peak_mb"], result["cpu_s"] = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        print(json.dumps(result))
        return
    rows: list[dict] = []

    report = recording_report(rows, 92)

    bench_logs(report, [int(r) for r in args.rows.split(",")], args.data, not args.no_spark, not args.no_grid,
               args.sessions_only)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
