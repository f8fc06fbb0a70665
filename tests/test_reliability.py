"""Reliability: kill -9 durability, concurrency, remote failures, secrets, fuzzing with hypothesis."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import PRODUCTS, T0
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import fincommerce
from fincommerce import FincommerceError, Settings, StoreUnavailableError, Workbench
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.trending import top_from_events

ROOT = Path(__file__).resolve().parents[1]
SENTINEL = "SENTINEL-API-KEY-5f3a9c"


def test_no_event_lost_after_sigkill(tmp_path: Path) -> None:
    store, acks = tmp_path / "store", tmp_path / "acks.txt"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from conftest import PRODUCTS
        from fincommerce import Settings, Workbench
        wb = Workbench(Settings(store_path={str(store)!r}))
        with open({str(acks)!r}, "a") as out:
            for i in range(100_000):
                batch = [{{"event_id": f"e{{i}}-{{j}}", "user_id": f"u{{j % 7}}",
                          "product_payload": PRODUCTS[(i + j) % 8],
                          "interaction_type": ["view", "click", "add_to_cart", "purchase"][j % 4], "query": "q",
                          "timestamp": 1_700_000_000 + i}} for j in range(20)]
                wb.log_interactions(batch, show_progress=False)
                out.write("\\n".join(e["event_id"] for e in batch) + "\\n")
                out.flush()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while time.time() < deadline and (not acks.exists() or len(acks.read_text().splitlines()) < 2000):
        time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acked = [line for line in acks.read_text().splitlines() if line]
    with Workbench(Settings(store_path=store)) as wb:  # opens without any manual repair
        stored = wb.events.table().to_dict("records")
        ids = {p["event_id"] for p in stored}
        missing = [e for e in acked if e not in ids]
        df = pd.DataFrame(stored)
        now = float(df.timestamp.max())
        expected = top_from_events(df.timestamp.to_numpy(), df.product_id.tolist(), df.interaction_type.tolist(),
                                   [[]] * len(df), now, 24 * 3600.0, wb.trending.weights, wb.trending.half_lives, None)
        rebuilt = wb.get_top_interacted_products(24, 100, now=now)
    print(json.dumps({"acked_before_kill": len(acked), "found_after": len(ids), "missing": len(missing)}))
    assert len(acked) >= 2000 and missing == []
    assert [r["product_id"] for r in rebuilt] == [r["product_id"] for r in expected]
    assert [r["raw_score"] for r in rebuilt] == pytest.approx([r["raw_score"] for r in expected], rel=1e-9)


def test_eight_threads_thousand_logs_each(wb: Workbench) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(1000):
                wb.log_interaction(f"user{t}", PRODUCTS[i % 8], INTERACTION_TYPES[i % 4], "shared query",
                                   timestamp=T0 - (i % 600))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert wb.store.count(wb.interactions) == 8000
    rows = wb.get_top_interacted_products(24, 10, now=T0)
    assert sum(r["total_interactions"] for r in rows) == 8000
    stored = wb.events.table()
    expected = top_from_events(
        stored.timestamp.to_numpy(),
        stored.product_id.tolist(),
        stored.interaction_type.tolist(),
        [[]] * len(stored),
        T0,
        24 * 3600.0,
        wb.trending.weights,
        wb.trending.half_lives,
        None,
    )
    assert [r["raw_score"] for r in rows] == pytest.approx([r["raw_score"] for r in expected], rel=1e-9)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_fails_fast_and_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("QDRANT_URL", url)
    monkeypatch.setenv("QDRANT_API_KEY", SENTINEL)
    monkeypatch.setenv("QDRANT_TIMEOUT", "2")
    calls = {
        "index_products": lambda: fincommerce.index_products(PRODUCTS[:1], show_progress=False),
        "log_interaction": lambda: fincommerce.log_interaction("u", PRODUCTS[0], "view"),
        "log_interactions": lambda: fincommerce.log_interactions([]),
        "import_events": lambda: fincommerce.import_events(Path(__file__).parent / "data" / "rees46_sample.csv"),
        "search_products": lambda: fincommerce.search_products("u", "laptop"),
        "get_top_interacted_products": lambda: fincommerce.get_top_interacted_products(),
        "popularity_scores": lambda: fincommerce.popularity_scores(["a"]),
    }
    for name, call in calls.items():
        fincommerce.set_default_workbench(None)
        started = time.perf_counter()
        with pytest.raises(StoreUnavailableError) as err:
            call()
        assert time.perf_counter() - started < 2 + 3, name
        assert url in str(err.value) and "QDRANT_URL" in str(err.value) and SENTINEL not in str(err.value)
    fincommerce.set_default_workbench(None)
    out = subprocess.run([sys.executable, "-m", "fincommerce.cli", "trending"], capture_output=True, text=True,
                         timeout=120, env={**os.environ})
    assert out.returncode == 2 and "Traceback" not in out.stderr and "refused the connection" in out.stderr
    assert SENTINEL not in out.stdout + out.stderr


def test_api_key_never_leaks_into_outputs(tmp_path: Path) -> None:
    env = {**os.environ, "QDRANT_URL": f"http://127.0.0.1:{_closed_port()}", "QDRANT_API_KEY": SENTINEL,
           "FINCOMMERCE_STORE_PATH": str(tmp_path / "store"),
           "QDRANT_TIMEOUT": "2"}
    commands = [
        ["trending", "--debug"],
        ["search", "laptop", "--debug"],
        ["import", str(Path(__file__).parent / "data" / "rees46_sample.csv")],
        ["simulate", "--users", "2", "--days", "1", "--out", str(tmp_path / "sim")],
        ["run", "--only", "04-browse-products", "--out", str(tmp_path / "reports")],
        ["-v", "index", "--products", "5"],
    ]
    seen = []
    for args in commands:
        out = subprocess.run([sys.executable, "-m", "fincommerce.cli", *args], capture_output=True, text=True,
                             timeout=600, env=env, cwd=tmp_path)
        seen.append(out.stdout + out.stderr)
        assert out.returncode != 0
    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert any("04-browse-products" in s for s in seen)
    assert all(SENTINEL not in text for text in seen + written)


# ---- fuzzing: only documented exceptions, and nothing written by a rejected call -------------------
FUZZ_COUNTS: dict[str, int] = {}
DOCUMENTED = (FincommerceError, FileNotFoundError)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
names = st.sampled_from(["MacBook", "Pegasus", "Kettle", "", "  ", "ノート", "<b>x</b>"]) | st.text(max_size=12)
products = st.fixed_dictionaries({}, optional={
    "id": st.sampled_from(["p1", "p2", "", 7]) | anything, "product_id": st.sampled_from(["p3"]) | anything,
    "name": names | anything, "brand": st.sampled_from(["Apple", ""]) | anything,
    "price": st.sampled_from([1.0, 999.0, -1.0, float("nan"), float("inf"), "12"]) | anything,
    "categories": st.sampled_from([["Laptops"], [], "Toys"]) | anything})
events = st.fixed_dictionaries({}, optional={
    "user_id": st.sampled_from(["u1", "", " "]) | anything, "product_payload": products,
    "interaction_type": st.sampled_from([*INTERACTION_TYPES, "like"]) | anything,
    "query": st.sampled_from(["", "laptop"]) | anything,
    "timestamp": st.sampled_from([T0, 0, -5, float("nan"), time.time() + 10_000]) | anything,
    "event_id": st.sampled_from(["e1", ""]) | anything, "extra": anything})
FUZZ = hsettings(max_examples=2500, deadline=None, database=None, derandomize=True,  # same cases every run
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _snapshot(wb: Workbench) -> tuple[int, int, int]:
    return wb.store.count(wb.products), wb.store.count(wb.interactions), wb.trending.n_events


def _call(wb: Workbench, name: str, fn) -> None:
    FUZZ_COUNTS[name] = FUZZ_COUNTS.get(name, 0) + 1
    before = _snapshot(wb)
    try:
        fn()
    except DOCUMENTED:
        assert _snapshot(wb) == before, f"{name} wrote something before rejecting the input"


@pytest.fixture(scope="module")
def fuzz_wb(tmp_path_factory: pytest.TempPathFactory, embedder) -> Workbench:
    wb = Workbench(Settings(store_path=tmp_path_factory.mktemp("fuzz") / "store"), embedder=embedder)
    wb.index_products(PRODUCTS, show_progress=False)
    yield wb
    wb.close()


@pytest.mark.slow
@FUZZ
@given(user=st.sampled_from(["u1", ""]) | anything, product=products,
       kind=st.sampled_from([*INTERACTION_TYPES, "like"]) | anything, query=st.sampled_from(["", "laptop"]) | anything,
       ts=st.sampled_from([None, T0, float("nan"), 1e12]) | anything)
def test_fuzz_log_interaction(fuzz_wb: Workbench, user, product, kind, query, ts) -> None:
    _call(fuzz_wb, "log_interaction", lambda: fuzz_wb.log_interaction(user, product, kind, query, timestamp=ts))


@pytest.mark.slow
@FUZZ
@given(batch=st.lists(events, max_size=4) | anything)
def test_fuzz_log_interactions(fuzz_wb: Workbench, batch) -> None:
    _call(fuzz_wb, "log_interactions", lambda: fuzz_wb.log_interactions(batch, show_progress=False))


@pytest.mark.slow
@FUZZ
@given(batch=st.lists(products, max_size=3) | anything)
def test_fuzz_index_products(fuzz_wb: Workbench, batch) -> None:
    _call(fuzz_wb, "index_products", lambda: fuzz_wb.index_products(batch, show_progress=False))


@pytest.mark.slow
@FUZZ
@given(query=st.sampled_from(["laptop", "", "🎧" * 3, "x" * 10_000]) | st.text(max_size=40) | anything,
       top_k=st.sampled_from([1, 5, 0, -1, 10**9]) | anything, ctx=st.none() | st.fixed_dictionaries(
           {}, optional={"budget": anything, "brands": anything, "categories": anything}) | anything,
       weights=st.none() | st.dictionaries(st.sampled_from(["semantic", "popularity", "bogus"]), anything, max_size=2))
def test_fuzz_search_products(fuzz_wb: Workbench, query, top_k, ctx, weights) -> None:
    _call(fuzz_wb, "search_products", lambda: fuzz_wb.search_products("u1", query, top_k, user_context=ctx,
                                                                     weights=weights, now=T0))


@pytest.mark.slow
@FUZZ
@given(hours=st.sampled_from([24, 0, -1, float("nan"), 1e9]) | anything, top_k=st.sampled_from([10, 0, -3]) | anything,
       now=st.none() | st.sampled_from([T0, float("inf")]) | anything, category=st.none() | anything)
def test_fuzz_trending(fuzz_wb: Workbench, hours, top_k, now, category) -> None:
    _call(fuzz_wb, "get_top_interacted_products",
          lambda: fuzz_wb.get_top_interacted_products(hours, top_k, now=now, category=category))


CSV_HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
csv_rows = st.lists(st.one_of(
    st.builds(lambda t, p, pr: f"2019-10-01 00:0{t}:00 UTC,{p},100{t},1,electronics.phone,acme,{pr},5,s\n",
              st.integers(0, 9), st.sampled_from(["view", "cart", "purchase", "remove_from_cart", "zap"]),
              st.sampled_from(["1.50", "-2", "abc", "nan", ""])),
    st.text(max_size=40).map(lambda s: s.replace("\x00", "") + "\n")), max_size=6)


@pytest.mark.slow
@FUZZ
@given(header=st.sampled_from([CSV_HEADER, "", "a,b\n"]), rows=csv_rows)
def test_fuzz_import_events(fuzz_wb: Workbench, tmp_path_factory: pytest.TempPathFactory, header, rows) -> None:
    path = tmp_path_factory.mktemp("csv") / "log.csv"
    path.write_text(header + "".join(rows), encoding="utf-8")
    _call(fuzz_wb, "import_events", lambda: fuzz_wb.import_events(path, show_progress=False))


@pytest.mark.slow
def test_fuzz_ran_ten_thousand_cases() -> None:
    if len(FUZZ_COUNTS) < 6:
        pytest.skip("run the whole module to count the fuzz cases")
    total = sum(FUZZ_COUNTS.values())
    print(json.dumps({"fuzz_cases": total, **FUZZ_COUNTS}))
    assert total >= 10_000
