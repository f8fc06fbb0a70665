"""Retention: what compaction drops, that every signal stays exact inside its window, and bad input."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PRODUCTS, T0

from fincommerce import ConfigError, Settings, Workbench
from fincommerce.cli import main as cli_main
from fincommerce.embedding import Embedder
from fincommerce.store import EdgeStore, PointIn, Range
from fincommerce.store.ids import INTERACTION_INDEXES
from fincommerce.store.retention import parse_age
from tests.test_behaviour_clock import QUERIES, TYPES, USERS, assert_same, reference
from tests.test_trending import brute_force

DAY = 86400.0
SPAN = 30  # days of events; the longest signal window is 7 days, compaction keeps 10


def month_events(n: int = 300, seed: int = 3) -> list[dict]:
    """Eight shoppers over 30 days, each leaning to one query (so look-alikes exist), seeded."""
    rng = np.random.default_rng(seed)
    events = []
    for k in range(n):
        user = USERS[int(rng.integers(len(USERS)))]
        lean = USERS.index(user) % 4
        q = QUERIES[lean if rng.random() < 0.8 else int(rng.integers(len(QUERIES)))]
        product = PRODUCTS[(2 * lean + int(rng.integers(2))) % len(PRODUCTS)]
        events.append({"user_id": user, "product": product, "interaction_type": TYPES[int(rng.integers(4))],
                       "query": q, "timestamp": T0 - SPAN * DAY + k * (SPAN * DAY / n), "event_id": f"e{k}"})
    return events


def trending_frame(wb: Workbench) -> pd.DataFrame:
    table = wb.events.table()
    table["category"] = [c[0] for c in table.categories]
    return table


def test_compaction_keeps_trending_collaborative_and_preference_exact(tmp_path: Path, embedder: Embedder) -> None:
    with Workbench(Settings(store_path=tmp_path / "s"), embedder=embedder) as wb:
        wb.index_products(PRODUCTS, show_progress=False)
        wb.log_interactions(month_events(), show_progress=False)
        newest = wb.newest_event_time()
        full = trending_frame(wb)
        # clocks whose windows lie inside the 10 kept days: the last 3 days (10 kept − 7 of behaviour window)
        clocks = [newest - 2.9 * DAY, newest - DAY, newest, newest + 0.5 * DAY]
        before = {now: reference(wb, now) for now in clocks}
        dry = wb.compact(10)
        assert wb.store.count(wb.interactions) == len(full)  # a dry run drops nothing
        assert dry.dropped == int((full.timestamp < newest - 10 * DAY).sum()) > 0
        assert dry.kept == len(full) - dry.dropped
        plan = wb.compact(10, apply=True)
        assert plan.dropped == dry.dropped
        assert wb.store.count(wb.interactions) == dry.kept
        assert wb.store.count(wb.interactions, [Range("timestamp", lt=newest - 10 * DAY)]) == 0
        for now in clocks:
            for category in (None, "Laptops"):
                got = wb.get_top_interacted_products(24, top_k=100, now=now, category=category)
                want = brute_force(full, now, category=category)
                assert [r["product_id"] for r in got] == want.product_id.tolist()
                np.testing.assert_allclose([r["raw_score"] for r in got], want.raw.tolist(), rtol=1e-9)
            assert_same(wb.ensure_behaviour(now), before[now])


def test_retention_days_on_open_drops_only_what_no_signal_reads(tmp_path: Path, embedder: Embedder) -> None:
    with Workbench(Settings(store_path=tmp_path / "s"), embedder=embedder) as wb:
        wb.index_products(PRODUCTS, show_progress=False)
        wb.log_interactions(month_events(), show_progress=False)
        newest, total = wb.newest_event_time(), wb.store.count(wb.interactions)
        top = wb.get_top_interacted_products(24, top_k=100, now=newest)
    with Workbench(Settings(store_path=tmp_path / "s", retention_days=8), embedder=embedder) as wb:
        kept = wb.store.count(wb.interactions)
        assert 0 < kept < total
        assert wb.oldest_event_time() >= newest - 8 * DAY
        assert wb.get_top_interacted_products(24, top_k=100, now=newest) == top  # the checkpoint was not trusted


@pytest.mark.parametrize("bad", [0, -1, "30", float("nan"), float("inf"), True, 3])
def test_bad_retention_days_is_one_clear_error(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ConfigError, match="retention_days"):
        Settings(store_path=tmp_path / "s", retention_days=bad)


def test_retention_days_from_the_environment_must_be_a_number(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FINCOMMERCE_RETENTION_DAYS"):
        Settings.from_env({"FINCOMMERCE_RETENTION_DAYS": "a month", "FINCOMMERCE_STORE_PATH": str(tmp_path)})


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * DAY), ("36h", 36 * 3600.0), ("7", 7 * DAY),
                                               (" 1.5D ", 1.5 * DAY)])
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("bad", ["", "30 days", "-3d", "0d", "1e9999d", "d", "nan"])
def test_bad_ages_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="--older-than"):
        parse_age(bad)


def fill(path: Path, n: int, span_days: float = 40.0) -> None:
    """n bare events (timestamps spread over span_days) written straight into the interactions collection."""
    collection = Settings().interactions_collection
    with EdgeStore(path) as store:
        store.ensure_collection(collection, 0, INTERACTION_INDEXES)
        for s in range(0, n, 4096):
            store.upsert(collection, [PointIn(f"00000000-0000-4000-8000-{i:012d}", None,
                                              {"timestamp": T0 - span_days * DAY * (1 - i / (n - 1))})
                                      for i in range(s, min(n, s + 4096))])


def count(path: Path, where: list | None = None) -> int:
    with EdgeStore(path) as store:
        return store.count(Settings().interactions_collection, where or [])


def test_compact_cli_dry_run_apply_and_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    fill(store, 2000)
    monkeypatch.setenv("FINCOMMERCE_STORE_PATH", str(store))
    assert cli_main(["compact", "--older-than", "30d"]) == 0
    out = capsys.readouterr().out
    assert "500 events before" in out and "dry run" in out
    assert count(store) == 2000
    assert cli_main(["compact", "--older-than", "3d"]) == 2
    assert "at least the longest signal window, 7 days" in capsys.readouterr().err
    assert cli_main(["compact"]) == 2  # no age and no retention_days
    assert "retention_days is not set" in capsys.readouterr().err
    assert cli_main(["compact", "--older-than", "30d", "--apply"]) == 0
    assert count(store) == 1500 and count(store, [Range("timestamp", lt=T0 - 30 * DAY)]) == 0
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from fincommerce.store import EdgeStore
        s = EdgeStore({str(store)!r}); print("ready", flush=True); time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert cli_main(["compact", "--older-than", "10d", "--apply"]) == 2
        assert "in use by another process" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert count(store) == 1500


COMPACT = """
import sys, time
from fincommerce.cli import main
print("ready", flush=True)
sys.exit(main(["compact", "--older-than", "20d", "--apply"]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.4, 0.7, 0.9])
def test_kill_9_during_compact_leaves_the_store_as_before_or_after(tmp_path: Path, fraction: float) -> None:
    """The delete is one WAL-logged operation: whenever the process dies, a reopen sees all or none of it."""
    store = tmp_path / "store"
    fill(store, 40_000)
    total, after = 40_000, count(store, [Range("timestamp", gte=T0 - 20 * DAY)])
    env = {"FINCOMMERCE_STORE_PATH": str(store), "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    timing = tmp_path / "timing"
    fill(timing, 40_000)
    proc = subprocess.Popen([sys.executable, "-c", COMPACT], stdout=subprocess.PIPE, text=True,
                            env={**env, "FINCOMMERCE_STORE_PATH": str(timing)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    assert proc.wait() == 0
    whole = time.perf_counter() - started  # from "ready" to exit: open, plan, delete, close
    proc = subprocess.Popen([sys.executable, "-c", COMPACT], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(fraction * whole)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = count(store)
    assert left in (total, after)
    if left == after:
        assert count(store, [Range("timestamp", lt=T0 - 20 * DAY)]) == 0
