"""RAM of the in-memory indexes that grow with users and events (issue 24), per user and per event, and the
look-alike search's cost at that size.

    python benchmarks/index_memory.py 100000 20                  # users, events per user → table + JSON
    python benchmarks/index_memory.py 100000 20 --before 8e65f57 # and the behaviour index of that commit, side by side
    python benchmarks/index_memory.py 1000000 20 --skip-trending # the 20M-event line (~2 GB, minutes)

Each structure is built in a fresh process from REES46-shaped synthetic events, seeded: users with ~20 events
each, mostly in a home category of 40, Zipf product popularity within it (and over all 50k products), the
view→cart→purchase funnel, one vector per (product, type) as the store shares them per behaviour sentence —
made like MiniLM's behaviour sentences (a shared template direction, a category direction and noise: unrelated
sentences at ~0.4 cosine, same-category ones at ~0.65), so look-alikes above the 0.7 floor exist. RSS growth
is measured: the behaviour index (collaborative + preference, everything in its 7-day window, after its first
search) and the trending index (what it retains: twice its 24 h window). The 20M-event month line
extrapolates per-unit figures to 1M users in the behaviour window and 1.3M events in the trending retention;
`1000000 20` measures that line's behaviour part directly. Measured 2026-12-03 (machine under load):
100k users 2,759 B/user against 8,782 before (8e65f57), look-alike p50 24.5 / 23.9 ms; 300k users 2,014
B/user, 32 ms; 1M users 1,364 B/user (1,301 MB, 228 MB of it 117k distinct vectors), 81 ms.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TYPES = ["view", "add_to_cart", "purchase"]
FUNNEL = [0.92, 0.05, 0.03]
PRODUCTS, TOPICS, DIM = 50_000, 40, 384
BUDGET_MB = 4096
CHUNK = 1_000_000


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def events(users: int, per_user: int, seed: int = 5) -> tuple[np.ndarray, ...]:
    """(user, product, type, t) sorted by t over 7 days; 80% of a user's products from its home category."""
    rng = np.random.default_rng(seed)
    n = users * per_user
    user = rng.integers(0, users, n).astype(np.int32)
    home = user % TOPICS + TOPICS * (np.minimum(rng.zipf(1.3, n), PRODUCTS // TOPICS) - 1)
    anywhere = np.minimum(rng.zipf(1.3, n), PRODUCTS) - 1
    product = np.where(rng.random(n) < 0.8, home, anywhere).astype(np.int32)
    kind = rng.choice(len(TYPES), n, p=FUNNEL).astype(np.int8)
    t = np.sort(rng.uniform(0, 7 * 86400, n))
    return user, product, kind, t


def sentence_vectors(seed: int = 1) -> np.ndarray:
    """One unit vector per (product, type): template + category direction + noise, float32 like the store."""
    rng = np.random.default_rng(seed)
    base, topic = rng.normal(size=DIM) / DIM ** 0.5, rng.normal(size=(TOPICS, DIM)) / DIM ** 0.5
    out = np.empty((PRODUCTS * len(TYPES), DIM), np.float32)
    for a in range(0, len(out), 50_000):
        rows = np.arange(a, min(a + 50_000, len(out)))
        v = base + 0.8 * topic[(rows // len(TYPES)) % TOPICS] + 0.9 * rng.normal(size=(len(rows), DIM)) / DIM ** 0.5
        out[rows] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def load_index_module(path: str | None) -> object:
    if path is None:
        import fincommerce.search.behaviour as module
        return module
    spec = importlib.util.spec_from_file_location("behaviour_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["behaviour_before"] = module
    spec.loader.exec_module(module)
    return module


def behaviour(users: int, per_user: int, impl: str | None) -> dict:
    from fincommerce.config import Settings
    from fincommerce.search.behaviour import BehaviourEvent
    from fincommerce.search.lookalikes import lookalikes

    module = load_index_module(impl)
    user, product, kind, t = events(users, per_user)
    pool = sentence_vectors()

    def stream() -> Iterator[BehaviourEvent]:
        for a in range(0, len(user), CHUNK):
            part = slice(a, a + CHUNK)
            for u, p, k, ts in zip(user[part].tolist(), product[part].tolist(), kind[part].tolist(), t[part].tolist()):
                yield BehaviourEvent(f"u{u}", f"p{p}", TYPES[k], ts, f"b{p % 300}", (f"c{p % TOPICS}",),
                                     pool[p * len(TYPES) + k])

    index = module.BehaviourIndex.from_settings(Settings())
    before, started = rss_mb(), time.perf_counter()
    index.add(stream())
    built = time.perf_counter() - started
    started = time.perf_counter()
    index.collaborative("u0", ["p0"])  # the first search: norms of every user (and, new, the grouping pass)
    first = time.perf_counter() - started
    grown = rss_mb() - before
    asked = [f"u{u}" for u in np.random.default_rng(3).choice(users, 30, replace=False)]
    candidates = [f"p{p}" for p in range(100)]
    collab, alike, found = [], [], []
    for name in asked:
        started = time.perf_counter()
        scores, _ = index.collaborative(name, candidates)
        collab.append(time.perf_counter() - started)
        found.append(int((scores > 0).sum()))
        u = index.users[name]
        started = time.perf_counter()
        if hasattr(index, "_similarities"):  # the index before the rewrite
            sims = index._similarities(u)
            sims[u] = -np.inf
            index._lookalikes(sims)
        else:
            lookalikes(index._events, index._pool, index._norms, index._spread, u, index._names, index._dense)
        alike.append(time.perf_counter() - started)
    shared = getattr(index, "_pool", None)  # distinct vectors, held once (this tree only)
    vectors = len(shared) if shared is not None else 0
    vectors_mb = (shared.rows.nbytes + shared.norms.nbytes + 120 * len(shared._keys)) / 1048576 if vectors else 0.0
    return {"structure": "behaviour index", "impl": impl or "this tree", "users": len(index.users),
            "distinct_vectors": vectors, "vectors_mb": vectors_mb,
            "bytes_per_user_beside_vectors": (grown - vectors_mb) * 1048576 / len(index.users),
            "events": len(user), "rss_mb": grown, "bytes_per_user": grown * 1048576 / len(index.users),
            "process_rss_mb": rss_mb(), "process_peak_mb": rss_mb("VmHWM"), "build_s": built, "first_search_s": first,
            "collaborative_p50_ms": float(np.median(collab)) * 1000, "lookalike_p50_ms": float(np.median(alike)) * 1000,
            "candidates_scored_mean": float(np.mean(found))}


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


def child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def line(b: dict) -> str:
    return (f"  behaviour index ({b['impl']}): {b['rss_mb']:,.0f} MB for {b['users']:,} users = "
            f"{b['bytes_per_user']:,.0f} B/user ({b['bytes_per_user_beside_vectors']:,.0f} beside "
            f"{b['distinct_vectors']:,} distinct vectors' {b['vectors_mb']:,.0f} MB; process "
            f"{b['process_rss_mb']:,.0f} MB, peak {b['process_peak_mb']:,.0f}); built in {b['build_s']:.1f} s, "
            f"first search {b['first_search_s']:.1f} s; "
            f"look-alike p50 {b['lookalike_p50_ms']:.1f} ms, collaborative p50 {b['collaborative_p50_ms']:.1f} ms")


def main(users: int, per_user: int, before_ref: str | None, skip_trending: bool) -> None:
    rows = [child("behaviour", str(users), str(per_user))]
    if before_ref:
        code = subprocess.run(["git", "-C", str(ROOT), "show", f"{before_ref}:fincommerce/search/behaviour.py"],
                              capture_output=True, text=True, check=True).stdout
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "behaviour.py").write_text(code)
            rows.append(child("behaviour", str(users), str(per_user), str(Path(tmp) / "behaviour.py")))
            rows[-1]["impl"] = before_ref
    if not skip_trending:
        rows.append(child("trending", str(users), str(per_user)))
    print(f"\nin-memory indexes, {users:,} users × {per_user} events (machine shared with other jobs)")
    for b in rows:
        if b["structure"] == "behaviour index":
            print(line(b))
    tr = rows[-1] if not skip_trending else None
    if tr:
        print(f"  trending index:  {tr['rss_mb']:,.0f} MB for {tr['events']:,} events = {tr['bytes_per_event']:,.0f} "
              f"B/event")
        month = rows[0]["bytes_per_user"] * 1_000_000 / 1048576 + tr["bytes_per_event"] * 1_300_000 / 1048576
        print(f"  a 20M-event month (1M users in the 7-day window, 1.3M events in trending's 48 h): {month:,.0f} MB "
              f"of the {BUDGET_MB:,} MB open budget (linear in this run's B/user: an overestimate below 1M users, "
              "the shared vectors do not grow with users)")
    RESULTS.mkdir(exist_ok=True)
    name = "index_memory.json" if users < 1_000_000 else f"index_memory_{users // 1_000_000}M.json"
    (RESULTS / name).write_text(json.dumps({"users": users, "per_user": per_user, "rows": rows}, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        kind, n, per = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        out = behaviour(n, per, sys.argv[5] if len(sys.argv) > 5 else None) if kind == "behaviour" else trending(n, per)
        print(json.dumps(out))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("users", type=int, nargs="?", default=100_000)
        parser.add_argument("per_user", type=int, nargs="?", default=20)
        parser.add_argument("--before", help="a git ref: also measure the behaviour index of that commit")
        parser.add_argument("--skip-trending", action="store_true")
        args = parser.parse_args()
        main(args.users, args.per_user, args.before, args.skip_trending)
