"""Reading events back: the eleven keys per event before vs four keys + shared facts now (issue 24, part 4).

    python benchmarks/event_layout_read.py [N]      # default 300,000 events; table + results/event_layout_read.json

Writes N events over 72 h (10k products, four types, five queries: ~110k distinct facts, a worst case, since
real logs repeat theirs more) in each layout straight into the engine (random vectors, no model), then opens a
workbench on each in a fresh process with no trending checkpoint (the full read), builds the behaviour window
and reads `table()`: seconds and peak RSS growth. The machine is shared: compare the rows, not absolute times.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
T_END = 1_790_000_000.0
QUERIES = ["", "laptop", "gift", "shoes", "tv"]


def fill(folder: Path, layout: str, n: int) -> None:
    from fincommerce.schema import INTERACTION_TYPES, INTERACTION_WEIGHTS, Interaction
    from fincommerce.store import EdgeStore, PointIn
    from fincommerce.store.event_facts import EventFacts
    from fincommerce.store.ids import INTERACTION_INDEXES, event_point_ids
    from fincommerce.tracking.events import behaviour_text
    from fincommerce.tracking.shared_vectors import text_point_id

    rng = np.random.default_rng(7)
    ts = np.round(np.sort(T_END - rng.uniform(0, 72 * 3600, n)), 3)
    prods, queries = rng.integers(0, 10_000, n).tolist(), rng.integers(0, 5, n).tolist()
    types = [INTERACTION_TYPES[t] for t in rng.choice(4, size=n, p=[0.7, 0.2, 0.07, 0.03]).tolist()]
    events = [Interaction(f"ev{i}", f"u{i % 50_000}", f"p{p}", t, INTERACTION_WEIGHTS[t], float(ts[i]), QUERIES[q],
                          f"Product p{p}", "Acme", (f"c{p % 20}",), 10.0 + p % 50)
              for i, (p, t, q) in enumerate(zip(prods, types, queries))]
    with EdgeStore(folder) as store:
        store.ensure_collection("interaction_memory", 0, INTERACTION_INDEXES)
        store.ensure_collection("interaction_memory_texts", 384, {})
        texts = list(dict.fromkeys(behaviour_text(e) for e in events))
        vectors = rng.standard_normal((len(texts), 384)).astype(np.float32)
        for s in range(0, len(texts), 5000):
            store.upsert("interaction_memory_texts", [PointIn(text_point_id(t), vectors[s + k], {"text": t})
                                                      for k, t in enumerate(texts[s:s + 5000])])
        facts = EventFacts(store, "interaction_memory")
        for s in range(0, n, 10_000):
            part = events[s:s + 10_000]
            payloads = facts.payloads(part) if layout == "lean" else [e.payload() for e in part]
            ids = event_point_ids([e.event_id for e in part])
            store.upsert("interaction_memory", [PointIn(i, None, p) for i, p in zip(ids, payloads)])


def measure(folder: Path) -> None:
    from fincommerce import Settings, Workbench
    from fincommerce.embedding import Embedder

    emb = Embedder()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (folder / "interaction_memory.trending.npz").unlink(missing_ok=True)  # a full read on open
    t = time.perf_counter()
    wb = Workbench(Settings(store_path=folder), embedder=emb)
    opened = time.perf_counter() - t
    t = time.perf_counter()
    wb.ensure_behaviour(T_END)
    behaviour = time.perf_counter() - t
    t = time.perf_counter()
    n = len(wb.events.table())
    table = time.perf_counter() - t
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    print(json.dumps({"open_s": opened, "behaviour_s": behaviour, "table_s": table, "rows": n, "peak_growth_mb": peak,
                      "facts": wb.store.count("interaction_memory_facts"), "trending_events": wb.trending.n_events}))
    wb.close()


def main(n: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="event_layout_read_") as tmp:
        for layout in ("full", "lean"):
            folder = Path(tmp) / layout
            run = [sys.executable, __file__, "--child"]
            subprocess.run([*run, "fill", str(folder), str(n), layout], check=True, capture_output=True)
            out = subprocess.run([*run, "measure", str(folder)], check=True, capture_output=True, text=True)
            rows.append({"layout": layout, **json.loads(out.stdout.strip().splitlines()[-1])})
    print(f"{'layout':8s} {'open s':>8s} {'behaviour s':>12s} {'table() s':>10s} {'peak RSS +MB':>13s}")
    for r in rows:
        print(f"{r['layout']:8s} {r['open_s']:8.2f} {r['behaviour_s']:12.2f} {r['table_s']:10.2f} "
              f"{r['peak_growth_mb']:13,.0f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "event_layout_read.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        if sys.argv[2] == "fill":
            fill(Path(sys.argv[3]), sys.argv[5], int(sys.argv[4]))
        else:
            measure(Path(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 300_000)
