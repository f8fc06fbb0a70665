"""The `fincommerce` command: the pipeline runner plus each package feature from the shell."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from fincommerce.config import DEFAULT_CATALOG_PATH, REPORTS_DIR, SIMULATION_DIR
from fincommerce.schema import FincommerceError

log = logging.getLogger("fincommerce")


def _workbench():  # imported lazily: `--help` must not load torch
    from fincommerce import default_workbench

    return default_workbench()


def cmd_index(args: argparse.Namespace) -> int:
    from fincommerce.catalog import load_catalog_csv

    if args.csv:
        df, errors = load_catalog_csv(args.csv)
        for e in errors:
            print(f"row {e.row}: {e.reason}", file=sys.stderr)
        n = _workbench().index_products(df)
    else:
        from fincommerce.catalog import generate_catalog, save_catalog

        df = generate_catalog(args.products, args.seed)
        save_catalog(df, DEFAULT_CATALOG_PATH)
        n = _workbench().index_products(df)
    print(f"indexed {n} products")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    context = {"budget": args.budget, "brands": args.brand or [], "categories": args.category or []}
    results = _workbench().search_products(args.user, args.query, args.top_k, args.debug, user_context=context,
                                           weights=args.weights, now=args.now)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False, default=str))
        return 0
    for i, r in enumerate(results, 1):
        p = r["payload"]
        print(f"#{i} {p['name']} ({p.get('brand', '')}, {p.get('price', 0):.2f})  final={r['final_score']:.3f}")
        for e in r["explanations"]:
            print(f"     {e}")
    return 0


def cmd_trending(args: argparse.Namespace) -> int:
    rows = _workbench().get_top_interacted_products(args.hours, args.top_k, args.debug, now=args.now,
                                                    category=args.category)
    if args.json:
        print(json.dumps(rows, indent=2))
    for i, r in enumerate(rows, 1):
        print(f"#{i} {r['product_id']}  score={r['weighted_popularity_score']:.3f}  "
              f"interactions={r['total_interactions']}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    report = _workbench().import_events(args.path)
    print(f"{report.path}: {report.rows} rows, {report.events_logged} events logged, "
          f"{report.already_present} already present, {len(report.bad_rows)} bad rows, "
          f"{report.new_products} new products, skipped {report.skipped_types or 'nothing'}")
    for bad in report.bad_rows[:20]:
        print(f"  line {bad.line}: {bad.reason}", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from fincommerce.reports import run_pipeline

    params = _read_params(args.params) if args.params else {}
    results = run_pipeline(params, only=args.only, out_dir=args.out)
    for name, records in results.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in records.items() if not isinstance(v, (list, dict)))[:300])
    print(f"reports written to {args.out / 'index.html'}")
    return 0


def _read_params(path: Path) -> dict:
    """JSON or YAML: shared keys, or a section per notebook name."""
    import yaml

    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of parameter names to values")
    return data


def cmd_simulate(args: argparse.Namespace) -> int:
    from fincommerce.simulate import save_simulation, simulate

    wb = _workbench()
    wb.ensure_catalog(args.products, args.seed)
    result = simulate(wb, args.users, args.days, args.seed, args.start)
    folder = save_simulation(result, args.out)
    print(f"{len(result.events)} events in {len(result.sessions)} sessions ({result.logged} newly logged); "
          f"tables in {folder}")
    return 0


def voila_command(notebook: Path, port: int) -> list[str]:
    """Voila on 127.0.0.1 with our template (Voila's lab template minus its CDN stylesheet links)."""
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
            "--ServerApp.port_retries=0", "--template=fincommerce"]


def voila_env(env: dict[str, str] | None = None) -> dict[str, str]:
    import os

    env = dict(os.environ if env is None else env)
    data = str(Path(__file__).parent / "jupyter_data")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (data, env.get("JUPYTER_PATH", "")) if p)
    return env


def cmd_browse(args: argparse.Namespace) -> int:
    """Serve notebooks/04-browse-products.ipynb with Voila on 127.0.0.1 only."""
    import subprocess

    from fincommerce.config import NOTEBOOKS_DIR
    from fincommerce.reports import ensure_kernel

    ensure_kernel()
    print(f"Serving the product browser on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)")
    try:
        return subprocess.call(voila_command(NOTEBOOKS_DIR / "04-browse-products.ipynb", args.port), env=voila_env())
    except KeyboardInterrupt:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fincommerce", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the whole pipeline: every notebook with papermill, HTML reports and an index",
                       description="Execute notebooks/ in order on the project's kernel; executed notebooks, "
                                   "self-contained HTML reports and index.html go to --out.")
    p.add_argument("--params", type=Path, help="YAML/JSON parameters: shared keys, or a section per notebook name")
    p.add_argument("--only", action="append", help="run only this notebook (repeatable), e.g. 02-tune-weights")
    p.add_argument("--out", type=Path, default=REPORTS_DIR, help="output folder (default reports/)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("simulate", help="simulate seeded shoppers and log their events",
                       description="Generate/index the catalogue if needed, simulate personas' sessions and log "
                                   "every event; the event table and ground truth are saved for tuning.")
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--days", type=int, default=10)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", default="2026-11-01", help="first simulated day (UTC)")
    p.add_argument("--products", type=int, default=5000, help="catalogue size if none is indexed")
    p.add_argument("--out", type=Path, default=SIMULATION_DIR)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("index", help="generate and index the catalogue, or index your own CSV")
    p.add_argument("--csv", type=Path, help="id,name,brand,categories,price,description; bad rows are reported")
    p.add_argument("--products", type=int, default=5000, help="generated catalogue size (default 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="popularity-aware search with explanations")
    p.add_argument("query")
    p.add_argument("--user", default="cli_user", help="user id (unknown users are cold starts)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--budget", type=float, help="budget when the query names none")
    p.add_argument("--brand", action="append", help="preferred brand (repeatable)")
    p.add_argument("--category", action="append", help="preferred category (repeatable)")
    p.add_argument("--weights", help="JSON file of ranking weights (e.g. data/tuned_weights.json)")
    p.add_argument("--now", type=float, help="unix time to rank at (default: now)")
    p.add_argument("--json", action="store_true", help="print the result dicts as JSON")
    p.add_argument("--debug", action="store_true", help="log the score breakdown")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("trending", help="exact time-decayed trending products")
    p.add_argument("--hours", type=float, default=24.0, help="timeframe in hours (default 24)")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--category", help="trending within a category")
    p.add_argument("--now", type=float, help="unix time to look back from (default: now)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=cmd_trending)

    p = sub.add_parser("browse", help="serve the widget product browser as a web page (Voila, 127.0.0.1)",
                       description="Open http://127.0.0.1:PORT/ for the live browser; it uses the same store, so "
                                   "close other workbenches on it first (or use QDRANT_URL).")
    p.add_argument("--port", type=int, default=8866)
    p.set_defaults(func=cmd_browse)

    p = sub.add_parser("import", help="import a REES46-format event log (idempotent; bad rows reported)")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except FincommerceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if type(exc).__name__ != "PapermillExecutionError":
            raise
        print(f"error: a notebook failed: {exc.ename}: {exc.evalue} (executed copy in the output folder)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
