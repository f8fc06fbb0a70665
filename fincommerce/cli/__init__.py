"""The `fincommerce` command: the pipeline runner plus each package feature from the shell."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fincommerce.cli.browse import cmd_browse
from fincommerce.cli.commands import (
    cmd_compact,
    cmd_import,
    cmd_index,
    cmd_run,
    cmd_search,
    cmd_simulate,
    cmd_trending,
    cmd_users,
)
from fincommerce.cli.setup import cmd_setup
from fincommerce.config import REPORTS_DIR, load_settings_file
from fincommerce.debugging import PACKAGE_LOGGER
from fincommerce.errors import FincommerceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fincommerce", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    parser.add_argument("--settings", type=Path, help="JSON file of settings, e.g. the trending backtest's "
                                                      "recommendation (same as FINCOMMERCE_SETTINGS)")
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
    p.add_argument("--out", type=Path, help="tables folder (default: simulation/ beside the store)")
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
    p.add_argument("--ranker", default="linear", help="linear (the seed's formula, default) or learned (the "
                   "LambdaRank model 02-tune-weights saves beside the store)")
    p.add_argument("--ranker-model", help="learned model file (default: learned_ranker.txt beside the store)")
    p.add_argument("--now", help="rank as of: latest (newest stored event), ISO 8601 or unix seconds")
    p.add_argument("--json", action="store_true", help="print the result dicts as JSON")
    p.add_argument("--debug", action="store_true", help="log the score breakdown")
    p.add_argument("--timings", action="store_true", help="say on stderr where the time went")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("trending", help="exact time-decayed trending products")
    p.add_argument("--hours", type=float, default=24.0, help="timeframe in hours (default 24)")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--category", help="trending within a category")
    p.add_argument("--now", help="look back from: latest (newest stored event), ISO 8601 or unix seconds")
    p.add_argument("--json", action="store_true")
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=cmd_trending)

    p = sub.add_parser("users", help="the most active users (ids to try searches with)")
    p.add_argument("--top", type=int, default=10)
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("browse", help="serve the live product browser as a web page (127.0.0.1, offline)",
                       description="Open http://127.0.0.1:PORT/ in as many tabs as you like: one server process "
                                   "holds the store for all of them. Ctrl-C or SIGTERM stops it.")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--now", help="the clock new tabs start at: latest (newest stored event), ISO 8601; default live")
    p.set_defaults(func=cmd_browse)

    p = sub.add_parser("setup", help="register the Jupyter kernel and the git filter that strips notebook outputs",
                       description="Run once by `make` set-up: one FinCommerce kernel for JupyterLab, papermill and "
                                   "the browser; notebooks/ stay clean for git however often they are run.")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("compact", help="drop events older than an age (dry run unless --apply)",
                       description="Drop raw events older than --older-than before the newest stored event (default: "
                                   "the retention_days setting). Ages below the longest signal window are refused, "
                                   "so trending, collaborative and preference stay exact. One atomic delete.")
    p.add_argument("--older-than", help="age like 30d (days) or 36h (hours)")
    p.add_argument("--apply", action="store_true", help="really drop them (default: print what would go)")
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("import", help="import a REES46-format event log (idempotent; bad rows reported)")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The package's own lines (the seed's log messages) by default; libraries' INFO lines only with --verbose.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        if args.settings:  # the environment carries it to every part: workbench, browser server, notebooks
            load_settings_file(args.settings)  # a bad file fails here, naming itself, before any work
            os.environ["FINCOMMERCE_SETTINGS"] = str(args.settings.resolve())
        return args.func(args)
    except (FincommerceError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the command has stopped what it started; no traceback
        print("interrupted", file=sys.stderr)
        return 130
