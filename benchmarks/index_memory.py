"""RAM of the in-memory indexes that grow with users and events (issue 24, item 3), per user and per event.

    python benchmarks/index_memory.py 200000 20       # users, events per user → table + results/index_memory.json

Each structure is built in a fresh process from REES46-shaped synthetic events (Zipf product popularity,
the view→cart→purchase funnel, vectors shared by a pool of sentences as the store shares them) and its RSS
growth is measured: the behaviour index (collaborative + preference, everything in its 7-day window) and
the trending index (what it retains: twice its 24 h window). The 20M-event month line extrapolates the
per-unit figures to 1M users in the behaviour window and 1.3M events in the trending retention.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TYPES = ["view", "add_to_cart", "purchase"]
FUNNEL = [0.92, 0.05, 0.03]
BUDGET_MB = 4096


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def events(users: int, per_user: int, seed: int = 5) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = users * per_user
    user = rng.integers(0, users, n)
    product = np.minimum(rng.zipf(1.3, n), 50_000) - 1
    kind = rng.choice(len(TYPES), n, p=FUNNEL)
    t = np.sort(rng.uniform(0, 7 * 86400, n))
    return user, product, kind, t


def behaviour(users: int, per_user: int) -> dict:
    from fincommerce.config import Settings
    from fincommerce.search.behaviour import BehaviourEvent, BehaviourIndex

    user, product, kind, t = events(users, per_user)
    pool = np.random.default_rng(1).normal(size=(5000, 384)).astype(np.float32)
    index = BehaviourIndex.from_settings(Settings())
    before, started = rss_mb(), time.perf_counter()
    index.add(BehaviourEvent(f"u{u}", f"p{p}", TYPES[k], float(ts), f"b{p % 300}", (f"c{p % 40}",), pool[p % 5000])
              for u, p, k, ts in zip(user.tolist(), product.tolist(), kind.tolist(), t.tolist()))
    built = time.perf_counter() - started
    started = time.perf_counter()
    for u in range(20):
        index.collaborative(f"u{u}", [f"p{p}" for p in range(50)])
    query_ms = (time.perf_counter() - started) / 20 * 1000
    grown = rss_mb() - before
    return {"structure": "behaviour index", "users": len(index.users), "events": len(user), "rss_mb": grown,
            "bytes_per_user": grown * 1048576 / len(index.users), "build_s": built, "collaborative_ms": query_ms}


def trending(users: int, per_user: int) -> dict:
    from fincommerce.config import Settings
    from fincommerce.trending.index import TrendingIndex

    user, product, kind, t = events(users, per_user)
    index = TrendingIndex.from_settings(Settings())
    before = rss_mb()
    pids, cats = [f"p{p}" for p in product.tolist()], [[f"c{p % 40}"] for p in product.tolist()]
    held = rss_mb()
    index.add((t / 3.5).tolist(), pids, [TYPES[k] for k in kind.tolist()], cats)  # all inside 48 h
    grown = rss_mb() - held
    return {"structure": "trending index", "events": len(user), "rss_mb": grown,
            "bytes_per_event": grown * 1048576 / len(user), "input_mb": held - before}


def main(users: int, per_user: int) -> None:
    rows = []
    for name in ("behaviour", "trending"):
        out = subprocess.run([sys.executable, __file__, "--child", name, str(users), str(per_user)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    b, tr = rows
    month = b["bytes_per_user"] * 1_000_000 / 1048576 + tr["bytes_per_event"] * 1_300_000 / 1048576
    print(f"\nin-memory indexes, {users:,} users × {per_user} events (machine shared with other jobs)")
    print(f"  behaviour index: {b['rss_mb']:,.0f} MB for {b['users']:,} users = {b['bytes_per_user']:,.0f} B/user; "
          f"built in {b['build_s']:.1f} s; collaborative {b['collaborative_ms']:.1f} ms per search")
    print(f"  trending index:  {tr['rss_mb']:,.0f} MB for {tr['events']:,} events = {tr['bytes_per_event']:,.0f} "
          f"B/event")
    print(f"  a 20M-event month (1M users in the 7-day window, 1.3M events in trending's 48 h): {month:,.0f} MB "
          f"of the {BUDGET_MB:,} MB open budget")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "index_memory.json").write_text(json.dumps({"rows": rows, "month_mb": month}, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        fn = behaviour if sys.argv[2] == "behaviour" else trending
        print(json.dumps(fn(int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, int(sys.argv[2]) if len(sys.argv) > 2 else 20)
