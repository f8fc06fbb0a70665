"""import_events over the REES46 format: bad rows reported, idempotent, products indexed for search."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_dir

from fincommerce import Workbench
from fincommerce.cli import main

FIXTURE = Path(__file__).parent / "data" / "rees46_sample.csv"


def test_import_fixture_is_idempotent_and_searchable(wb: Workbench) -> None:
    first = wb.import_events(FIXTURE, show_progress=False)
    assert first.events_logged > 0 and first.already_present == 0
    assert first.skipped_types == {"remove_from_cart": 1}
    assert {b.line for b in first.bad_rows} >= {13, 14, 15, 26}
    stored = wb.store.count(wb.interactions)
    assert stored == first.events_logged
    assert first.new_products == wb.store.count(wb.products)
    products = wb.get_products(["1004856"])
    assert products["1004856"]["name"] == "Samsung Smartphone"
    assert products["1004856"]["categories"] == ["Electronics", "Smartphone"]

    second = wb.import_events(FIXTURE, show_progress=False)
    assert second.events_logged == 0 and second.already_present == first.events_logged + first.already_present
    assert second.new_products == 0 and wb.store.count(wb.interactions) == stored

    now = 1569888000.0 + 3600
    top = wb.get_top_interacted_products(24, 3, now=now)
    assert top[0]["product_id"] in {"1004856", "1005253", "3900821"}  # purchased products lead
    hits = wb.search_products("541312140", "samsung smartphone", top_k=3, now=now)
    samsung = next(h for h in hits[:2] if h["product_id"] == "1004856")
    assert samsung["preference_score"] >= 0.5  # the brand named in the query


def test_cli_import_reports_bad_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import fincommerce

    monkeypatch.setenv("FINCOMMERCE_STORE_PATH", str(tmp_path / "store"))
    fincommerce.set_default_workbench(None)
    try:
        assert main(["import", str(FIXTURE)]) == 0
    finally:
        fincommerce.default_workbench().close()
        fincommerce.set_default_workbench(None)
    out = capsys.readouterr()
    assert "bad rows" in out.out and "line 26" in out.err


@pytest.mark.slow
def test_real_rees46_head_sample(wb: Workbench) -> None:
    path = shared_dir() / "datasets" / "rees46" / "2019-Oct_head_sample.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    report = wb.import_events(path, show_progress=False)
    assert len(report.bad_rows) == 1 and report.rows == 17_435 and report.duplicates_in_file == 5
    assert report.events_logged == 17_429 and report.accounted() == report.rows
    assert wb.store.count(wb.interactions) == report.events_logged
    end = 1569898200.0  # 02:50 UTC, the end of the sample
    top = wb.get_top_interacted_products(24, 5, now=end)
    assert len(top) == 5 and top[0]["weighted_popularity_score"] == 1.0
