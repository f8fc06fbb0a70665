"""The `fincommerce` command: the pipeline runner plus each package feature from the shell."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from fincommerce.config import DEFAULT_CATALOG_PATH
from fincommerce.schema import FincommerceError

log = logging.getLogger("fincommerce")


def _workbench():  # imported lazily: `--help` must not load torch
    from fincommerce import default_workbench

    return default_workbench()


def ensure_catalog(n_products: int, seed: int, path: Path = DEFAULT_CATALOG_PATH, *, reindex: bool = False) -> int:
    """Generate the catalogue once and index it into the store (skipped when already there)."""
    from fincommerce.catalog import generate_catalog, load_catalog_csv, save_catalog

    wb = _workbench()
    if path.exists() and not reindex and wb.store.count(wb.products) > 0:
        log.info("Catalogue %s already indexed (%d products)", path, wb.store.count(wb.products))
        return 0
    if path.exists() and not reindex:
        df, _ = load_catalog_csv(path)
    else:
        df = generate_catalog(n_products, seed)
        save_catalog(df, path)
    return wb.index_products(df)


def cmd_index(args: argparse.Namespace) -> int:
    from fincommerce.catalog import load_catalog_csv

    if args.csv:
        df, errors = load_catalog_csv(args.csv)
        for e in errors:
            print(f"row {e.row}: {e.reason}", file=sys.stderr)
        n = _workbench().index_products(df)
    else:
        n = ensure_catalog(args.products, args.seed, reindex=True)
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
    ensure_catalog(args.products, args.seed)
    for r in _workbench().search_products("demo_professional", "laptop for machine learning under 1500", 5):
        print(f"{r['payload']['name']:60s} {r['payload']['price']:9.2f}  {r['final_score']:.3f}  {r['reason']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fincommerce", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the whole pipeline: catalogue, store, notebooks, reports/")
    p.add_argument("--products", type=int, default=5000, help="catalogue size when generating (default 5000)")
    p.add_argument("--seed", type=int, default=0, help="catalogue seed")
    p.set_defaults(func=cmd_run)

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
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
