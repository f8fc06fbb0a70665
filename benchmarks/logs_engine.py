"""The log engine against today's pandas path on one Parquet log, side by side in one run, and Ibis against
raw DuckDB SQL on the trending-at-cuts query (the choice of one portable layer).

    python benchmarks/logs_engine.py LOG.parquet [--cut-every 180]

LOG is a REES46-shaped Parquet log (its own column names); the official seeded generator is on branch
`bench-month`. Each side runs in a fresh process and reports its own peak RSS (ru_maxrss).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REES46 = {"event_time": "timestamp", "event_type": "interaction_type", "user_session": "session_id",
          "category_code": "category"}
TARGET_RSS_GB = 3.0


def side(kind: str, path: str, cut_every: float) -> dict:
    """One side in this process: summary, then 05's backtest (seed predictor, 24 h horizon)."""
    from fincommerce.offline import backtest

    started = time.perf_counter()
    if kind == "pandas":
        from fincommerce.tracking.event_table import read_event_table
        table = read_event_table(path, REES46)
        summary, loaded = table.summary(), time.perf_counter()
        cols = backtest.LogColumns.from_events(table.events)
        result = backtest.run_backtest(cols, backtest.predictors([], [])[:1], 24.0, cut_every, show_progress=False)
    else:
        from fincommerce.logs.report import scan_report
        from fincommerce.logs.scan import scan_log
        from fincommerce.offline.backtest_engine import run_backtest_on_engine
        scan = scan_log(path)
        report = scan_report(scan)
        summary, loaded = report.summary(), time.perf_counter()
        result = run_backtest_on_engine(scan.events, backtest.predictors([], [])[:1], 24.0, cut_every,
                                        report.t_min, report.t_max, show_progress=False)
    done = time.perf_counter()
    return {"summary": summary, "summary_s": loaded - started, "backtest_s": done - loaded,
            "cuts": int(len(result.cuts)), "mean_ndcg": float(result.per_cut.ndcg.mean())}


def ibis_vs_sql(path: str, step: float = 3600.0, half_life: float = 6 * 3600.0, n_cuts: int = 200) -> dict:
    """Per-product decayed sums at n_cuts cut points over hourly bucketed partial sums: one Ibis expression
    against the same query written as DuckDB SQL, same process, alternating."""
    import duckdb
    import ibis

    t0 = float(duckdb.sql(f"SELECT min(epoch(event_time)) FROM read_parquet('{path}')").fetchone()[0]) + 86400

    def sql() -> float:
        con = duckdb.connect()
        con.execute(f"""CREATE TEMP TABLE b AS SELECT product_id, ceil((epoch(event_time) - {t0}) / {step}) AS k,
            sum(CASE event_type WHEN 'view' THEN 0.1 WHEN 'cart' THEN 0.6 WHEN 'purchase' THEN 1.0 END
                * pow(2.0, (epoch(event_time) - ({t0} + ceil((epoch(event_time) - {t0}) / {step}) * {step}))
                / {half_life})) AS s FROM read_parquet('{path}') WHERE event_type IN ('view', 'cart', 'purchase')
            GROUP BY ALL""")
        con.execute(f"CREATE TEMP TABLE cuts AS SELECT unnest(range(0, {n_cuts})) AS c")
        return con.execute(f"""SELECT sum(score) FROM (SELECT c, product_id, sum(s * pow(2.0, -(c - k) * {step}
            / {half_life})) AS score FROM cuts JOIN b ON b.k > c - 24 AND b.k <= c GROUP BY ALL)""").fetchone()[0]

    def portable() -> float:
        con = ibis.duckdb.connect()
        ev = con.read_parquet(path)
        t = ev.event_time.epoch_seconds().cast("float64")
        w = ev.event_type.cases(("view", 0.1), ("cart", 0.6), ("purchase", 1.0))
        b = ev.filter(ev.event_type.isin(["view", "cart", "purchase"])).mutate(k=((t - t0) / step).ceil(), w=w, t=t)
        b = b.mutate(s=b.w * ibis.literal(2.0).pow((b.t - (t0 + b.k * step)) / half_life))
        b = con.create_table("b", b.group_by(["product_id", "k"]).aggregate(s=b.s.sum()), temp=True)
        cuts = con.create_table("cuts", ibis.memtable({"c": list(range(n_cuts))}), temp=True)
        j = cuts.join(b, [b.k > cuts.c - 24, b.k <= cuts.c])
        per = j.group_by(["c", "product_id"]).aggregate(score=(j.s * ibis.literal(2.0).pow(-(j.c - j.k) * step
                                                                                          / half_life)).sum())
        return float(per.score.sum().to_pandas())

    out: dict = {"sql_s": [], "ibis_s": []}
    for name, fn in (("sql_s", sql), ("ibis_s", portable)) * 2:
        t = time.perf_counter()
        out[f"{name[:-2]}_sum"] = fn()
        out[name].append(time.perf_counter() - t)
    return out


def _child(kind: str, path: str, cut_every: float) -> dict:
    code = (f"import json, resource, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import logs_engine as b; "
            f"r = b.side({kind!r}, {path!r}, {cut_every}); "
            "r['peak_rss_gb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20; print(json.dumps(r))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log")
    parser.add_argument("--cut-every", type=float, default=180.0, help="minutes between cut points")
    args = parser.parse_args()
    rows = {kind: _child(kind, args.log, args.cut_every) for kind in ("duckdb", "pandas")}
    rows["ibis_vs_sql"] = ibis_vs_sql(args.log)
    print(f"{'path':8} {'summary s':>10} {'backtest s':>11} {'peak RSS GB':>12} (target ≤ {TARGET_RSS_GB})")
    for kind in ("duckdb", "pandas"):
        r = rows[kind]
        print(f"{kind:8} {r['summary_s']:10.1f} {r['backtest_s']:11.1f} {r['peak_rss_gb']:12.2f}   {r['summary']}")
    iv = rows["ibis_vs_sql"]
    print("Ibis vs DuckDB SQL (s): ibis " + ", ".join(f"{x:.1f}" for x in iv["ibis_s"]) + "; sql "
          + ", ".join(f"{x:.1f}" for x in iv["sql_s"]))
    out = Path(__file__).with_name("logs_engine.json")
    out.write_text(json.dumps(rows, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
