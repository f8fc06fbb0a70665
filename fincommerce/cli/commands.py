"""One function per `fincommerce` sub-command (parsing lives in `fincommerce.cli`)."""
from __future__ import annotations

import argparse
import json
import sys
import time

from fincommerce import default_workbench
from fincommerce.catalog import generate_catalog, load_catalog_csv, save_catalog
from fincommerce.cli.params import read_params
from fincommerce.config import Settings
from fincommerce.offline.simulate import save_simulation, simulate
from fincommerce.store import open_store
from fincommerce.store.retention import compact, parse_age, plan_compaction


def shown(value: object) -> str:
    """Text for a terminal table: control characters (ANSI / OSC sequences in names and ids) are escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(value))


def cmd_index(args: argparse.Namespace) -> int:
    wb = default_workbench()  # opened first: a locked or broken store must not leave a new catalogue behind
    if args.csv:
        df, errors = load_catalog_csv(args.csv)
        for e in errors:
            print(f"row {e.row}: {e.reason}", file=sys.stderr)
    else:
        df = generate_catalog(args.products, args.seed)
    n = wb.index_products(df)
    if not args.csv:
        save_catalog(df, wb.settings.catalog_path)
    print(f"indexed {n} products")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    context = {"budget": args.budget, "brands": args.brand or [], "categories": args.category or []}
    started = time.perf_counter()
    wb = default_workbench()
    opened = time.perf_counter()
    results = wb.search_products(args.user, args.query, args.top_k, args.debug, user_context=context,
                                 weights=args.weights, now=wb.resolve_now(args.now), ranker=args.ranker,
                                 ranker_model=args.ranker_model)
    if args.timings:
        print(f"timings: open store + trending {opened - started:.3f} s, search (query embedding, behaviour, "
              f"ranking) {time.perf_counter() - opened:.3f} s", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False, default=str))
        return 0
    for i, r in enumerate(results, 1):
        p = r["payload"]
        print(f"#{i} {shown(p['name'])} ({shown(p.get('brand', ''))}, {p.get('price', 0):,.2f})  "
              f"final={r['final_score']:.3f}  [{shown(r['product_id'])}]")
        for e in r["explanations"]:
            print(f"     {shown(e)}")
    return 0


def cmd_trending(args: argparse.Namespace) -> int:
    wb = default_workbench()
    rows = wb.get_top_interacted_products(args.hours, args.top_k, args.debug, now=wb.resolve_now(args.now),
                                          category=args.category)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    names = wb.get_products([r["product_id"] for r in rows])
    for i, r in enumerate(rows, 1):
        name = names.get(r["product_id"], {}).get("name", "")
        print(f"#{i} {shown(name)} [{shown(r['product_id'])}]  score={r['weighted_popularity_score']:.3f}  "
              f"interactions={r['total_interactions']}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    """The most active users, so a newcomer has ids to try."""
    table = default_workbench().events.activity()
    if table.empty:
        print("No interactions stored yet: run `make run` or `fincommerce simulate` first.")
        return 0
    for user, row in table.head(args.top).iterrows():
        print(f"{shown(user)}  events={row.events}  purchases={row.purchases}  last={row.last:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    report = default_workbench().import_events(args.path)
    print(f"{report.path}: {report.rows} rows, {report.events_logged} events logged, "
          f"{report.already_present} already present, {report.duplicates_in_file} duplicates in the file, "
          f"{report.n_bad} bad rows, {report.new_products} new products, "
          f"skipped {report.skipped_types or 'nothing'}")
    for bad in report.bad_rows[:20]:
        print(f"  line {bad.line}: {shown(bad.reason)}", file=sys.stderr)
    if report.n_bad > 20:
        kinds = ", ".join(f"{n:,} {shown(k)}" for k, n in sorted(report.bad_counts.items(), key=lambda kv: -kv[1]))
        print(f"  ... {report.n_bad - 20:,} more bad rows; by kind: {kinds}", file=sys.stderr)
    if report.broken is not None:
        print(f"error: {shown(args.path)}: {report.broken}; the {report.rows:,} rows before it were read",
              file=sys.stderr)
        return 1
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    wb = default_workbench()
    wb.ensure_catalog(args.products, args.seed)
    result = simulate(wb, args.users, args.days, args.seed, args.start)
    folder = save_simulation(result, args.out or wb.settings.simulation_dir)
    print(f"{len(result.events)} events in {len(result.sessions)} sessions ({result.logged} newly logged); "
          f"tables in {folder}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    params = read_params(args.params) if args.params else {}  # a bad file fails before Jupyter loads
    from fincommerce.ui.pipeline import run_pipeline  # papermill and Jupyter load only for this command

    results = run_pipeline(params, only=args.only, out_dir=args.out)
    for name, records in results.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in records.items() if not isinstance(v, (list, dict)))[:300])
    print(f"reports written to {args.out / 'index.html'}")
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    """Opens only the store (no model): a store another process holds fails here, before anything is read."""
    settings = Settings.from_env()
    age = parse_age(args.older_than) if args.older_than is not None else None
    with open_store(settings) as store:
        plan = plan_compaction(store, settings.interactions_collection, settings, age)
        print(plan.describe())
        if not args.apply:
            print("dry run: nothing was dropped (add --apply to drop them)")
            return 0
        print(f"dropped {compact(store, plan):,} events")
    return 0
