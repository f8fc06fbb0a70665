"""The `fincommerce` command as a person and a script use it: one JSON document, the data's clock, nothing
half-written when the store cannot be opened."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fincommerce import Settings, Workbench
from fincommerce.store.edge import EdgeStore

from conftest import PRODUCTS, T0


def _cli(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "FINCOMMERCE_STORE_PATH": str(store)}
    env.pop("QDRANT_URL", None)
    return subprocess.run([sys.executable, "-m", "fincommerce.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture
def history(tmp_path: Path, embedder) -> Path:
    """A store whose newest event is long before today (as after a simulated period)."""
    store = tmp_path / "store"
    with Workbench(Settings(store_path=store), embedder=embedder) as wb:
        wb.index_products(PRODUCTS, show_progress=False)
        for i, pid in enumerate(["mbp", "mbp", "air"]):
            wb.log_interaction("u1", {"id": pid, "name": pid, "price": 1.0}, "purchase", timestamp=T0 + i)
    return store


def test_trending_json_is_exactly_one_document_and_latest_reads_the_data_clock(history: Path) -> None:
    out = _cli("trending", "--json", "--now", "latest", store=history)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)  # nothing but the JSON document
    assert [r["product_id"] for r in rows] == ["mbp", "air"]
    iso = _cli("trending", "--json", "--now", "2023-11-14T22:14Z", store=history)  # T0 = 2023-11-14 22:13:20 UTC
    assert [r["product_id"] for r in json.loads(iso.stdout)] == ["mbp", "air"]


def test_a_later_day_says_why_trending_is_empty_and_how_to_look(history: Path) -> None:
    out = _cli("trending", store=history)
    assert out.returncode == 0 and out.stdout == ""
    assert "No interactions found in timeframe" in out.stderr
    assert "newest stored event is from 2023-11-14 22:13 UTC" in out.stderr and "--now latest" in out.stderr


def test_bad_now_is_one_error_line(history: Path) -> None:
    out = _cli("trending", "--now", "yesterday", store=history)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: now: expected")
    assert "Traceback" not in out.stderr


def test_index_on_a_locked_store_writes_no_catalogue(tmp_path: Path) -> None:
    store = tmp_path / "store"
    holder = EdgeStore(store)
    try:
        out = _cli("index", "--products", "5", store=store)
    finally:
        holder.close()
    assert out.returncode == 2 and "in use by another process" in out.stderr
    assert not (tmp_path / "catalog.csv").exists()
