"""The next-view protocol on a real log, timed: `python benchmarks/next_view.py [log] [--events N]`.

Defaults are 02's (the shipped REES46 October sample, warmup 0.2, tuning 0.3, grid step 0.05, 1,000 bootstrap
resamples, seed 42), so the table printed here is the one 02's REES46 report shows.
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

from fincommerce.config import Settings
from fincommerce.embedding import Embedder
from fincommerce.offline.next_view import build_next_view_data
from fincommerce.offline.next_view_rankers import compare_next_view
from fincommerce.tracking.event_table import read_event_table
from fincommerce.ui.next_view_findings import next_view_findings
from fincommerce.ui.pipeline import REES46_SAMPLE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", nargs="?", default=str(REES46_SAMPLE))
    parser.add_argument("--events", type=int, default=0, help="read only the log's first N events (0: all)")
    args = parser.parse_args()
    settings, started = Settings(), time.perf_counter()
    events = read_event_table(args.log).events.sort_values("timestamp", kind="stable")
    events = events.head(args.events) if args.events else events
    proto = build_next_view_data(Embedder(settings.device, settings.embed_batch_size), events, settings,
                                 warmup=0.2, tune=0.3, show_progress=False)
    built = time.perf_counter()
    result = compare_next_view(proto, settings.ranking_weights, step=0.05, n_boot=1000, seed=42)
    done = time.perf_counter()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(result.table.set_index("ranker").round(3))
        print(result.versus.set_index(["ranker", "baseline"]).round(4))
    print("\n".join(next_view_findings(result.summary())))
    print(f"replay and candidates {built - started:.0f} s, tuning, training and table {done - built:.0f} s; "
          f"fingerprints: model {result.summary()['model_fingerprint']}, table {result.summary()['table_fingerprint']}")


if __name__ == "__main__":
    main()
