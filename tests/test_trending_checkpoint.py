"""The trending checkpoint saved on close: the next open equals a full read of the store, whatever came after."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PRODUCTS

from fincommerce import Settings, Workbench
from fincommerce.config import HOUR
from fincommerce.trending.sync import StoreFeed

T0 = 1_700_000_000.0
TYPES = ["view", "click", "add_to_cart", "purchase"]
CHECKPOINT = "interaction_memory.trending.npz"


def _events(prefix: str, n: int, t0: float, step: float) -> list[dict]:
    return [{"user_id": f"u{i % 5}", "product_payload": PRODUCTS[i % len(PRODUCTS)], "interaction_type": TYPES[i % 4],
             "timestamp": t0 + i * step, "event_id": f"{prefix}{i}"} for i in range(n)]


def _view(wb: Workbench, now: float) -> list[list[tuple]]:
    return [[(r["product_id"], r["total_interactions"], r["raw_score"]) for r in
             wb.get_top_interacted_products(tf, 50, now=now)] for tf in (6, 24, 48)]


def _full_read(settings: Settings, embedder, now: float) -> list[list[tuple]]:
    (settings.store_path / CHECKPOINT).unlink(missing_ok=True)
    with Workbench(settings, embedder=embedder) as wb:
        return _view(wb, now)


def _same(a: list[list[tuple]], b: list[list[tuple]]) -> None:
    for x, y in zip(a, b):
        assert [r[:2] for r in x] == [r[:2] for r in y]
        assert [r[2] for r in x] == pytest.approx([r[2] for r in y], rel=1e-9)


@pytest.mark.parametrize("later", ["nothing", "newer", "history"])
def test_open_from_the_checkpoint_equals_a_full_read(settings: Settings, embedder, later: str) -> None:
    with Workbench(settings, embedder=embedder) as wb:
        wb.log_interactions(_events("a", 300, T0, 300.0), show_progress=False)  # 25 h of events
    assert (settings.store_path / CHECKPOINT).exists()
    if later != "nothing":  # written by a workbench whose close never saved (killed), so the checkpoint is behind
        wb = Workbench(settings, embedder=embedder)
        start = T0 + 300 * 300.0 if later == "newer" else T0 + 3600.0  # "history": long before the saved cut
        wb.log_interactions(_events("b", 40, start, 60.0), show_progress=False)
        wb.store.close()
    now = T0 + 27 * HOUR
    with Workbench(settings, embedder=embedder) as wb:
        restored = _view(wb, now)
        n_events = wb.trending.n_events
    assert sum(r[1] for r in restored[2]) == 300 + (40 if later != "nothing" else 0) - sum(
        1 for i in range(300) if T0 + i * 300.0 < now - 48 * HOUR)
    assert n_events > 0
    _same(restored, _full_read(settings, embedder, now))


def test_logging_keeps_the_checkpoint_current_so_a_killed_process_costs_no_full_read(
        settings: Settings, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    wb = Workbench(settings, embedder=embedder)
    wb.popularity.checkpoint_seconds = 0.0  # save after every logged batch (default: every 5 minutes)
    for part in range(3):
        wb.log_interactions(_events(f"p{part}-", 100, T0 + part * 100 * 300.0, 300.0), show_progress=False)
    wb.store.close()  # killed: close() never saved
    now = T0 + 27 * HOUR
    with monkeypatch.context() as m:
        m.setattr(StoreFeed, "load", lambda *a, **k: pytest.fail("the open read the whole store again"))
        with Workbench(settings, embedder=embedder) as again:
            restored = _view(again, now)
    _same(restored, _full_read(settings, embedder, now))


def test_a_full_read_is_saved_at_once(settings: Settings, embedder) -> None:
    wb = Workbench(settings, embedder=embedder)
    wb.log_interactions(_events("a", 50, T0, 60.0), show_progress=False)
    wb.store.close()  # killed before any save
    (settings.store_path / CHECKPOINT).unlink(missing_ok=True)
    wb = Workbench(settings, embedder=embedder)  # reads the store ...
    assert (settings.store_path / CHECKPOINT).exists()  # ... and saves what it read right away
    wb.store.close()


def test_an_unreadable_checkpoint_is_ignored(settings: Settings, embedder) -> None:
    with Workbench(settings, embedder=embedder) as wb:
        wb.log_interactions(_events("a", 50, T0, 60.0), show_progress=False)
    (settings.store_path / CHECKPOINT).write_bytes(b"not an npz")
    now = T0 + HOUR
    with Workbench(settings, embedder=embedder) as wb:
        assert sum(r[1] for r in _view(wb, now)[1]) == 50


def test_a_checkpoint_for_another_window_is_not_used(tmp_path: Path, embedder) -> None:
    settings = Settings(store_path=tmp_path / "store")
    with Workbench(settings, embedder=embedder) as wb:
        wb.log_interactions(_events("a", 50, T0, 60.0), show_progress=False)
    wider = Settings(store_path=tmp_path / "store", trending_window_hours=48)
    with Workbench(wider, embedder=embedder) as wb:
        assert wb.trending.window == 48 * HOUR and wb.trending.n_events == 50
