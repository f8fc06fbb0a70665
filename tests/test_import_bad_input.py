"""`fincommerce import` on hostile logs, into a real store with the real model: a bad row costs only itself,
a broken .gz imports what was readable and exits non-zero, a pandas round trip adds nothing (issue 23)."""
from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

import fincommerce
from fincommerce import Workbench
from fincommerce.cli import main
from fincommerce.tracking.importers import import_rees46

HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"


def _row(i: int, user: str | None = None, brand: str = "acme", code: str = "electronics.phone",
         product: int | None = None) -> str:
    return (f"2019-10-01 00:{i // 60:02d}:{i % 60:02d} UTC,view,{product or 1000 + i % 7},2,{code},{brand},35.80,"
            f"{user or 500 + i},s{i}")


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FINCOMMERCE_STORE_PATH", str(tmp_path / "store"))
    fincommerce.set_default_workbench(None)
    yield
    fincommerce.default_workbench().close()
    fincommerce.set_default_workbench(None)


def test_an_over_long_field_is_one_bad_row_and_the_rest_imports(tmp_path: Path, cli_store, capsys) -> None:
    path = tmp_path / "long.csv"
    path.write_text("\n".join([HEADER, *(_row(i) for i in range(10)), _row(10, user="u" * 300),
                               *(_row(11 + i) for i in range(10)), _row(21, brand="b" * 600)]) + "\n")
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr()
    assert "22 rows, 20 events logged" in out.out and "2 bad rows" in out.out
    assert "line 12: user_id: longer than 200 characters" in out.err and "line 23: brand: longer than" in out.err
    assert fincommerce.default_workbench().store.count(fincommerce.default_workbench().interactions) == 20


def test_rows_only_the_event_log_rejects_cost_only_themselves_in_any_chunk(tmp_path: Path, wb: Workbench) -> None:
    """A brand and category code within the parser's limits whose product name outgrows the event log's
    (lower-casing İ doubles it): bad rows with their lines, in the third of five chunks as in the first."""
    rows = [_row(i) for i in range(16)]
    rows[1], rows[9] = (_row(i, brand="İ" * 150, code="İ" * 150, product=77) for i in (1, 9))
    path = tmp_path / "mixed.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    report = import_rees46(wb.catalog, wb.events, path, show_progress=False, chunk_lines=4)
    assert [b.line for b in report.bad_rows] == [3, 11] and report.bad_counts == {"product_payload.name": 2}
    assert report.bad_rows[0].reason.startswith("product_payload.name: expected at most 500 characters")
    assert report.events_logged == 14 and report.accounted() == report.rows == 16
    assert wb.store.count(wb.interactions) == 14 and wb.store.count(wb.products) == report.new_products == 7


def test_a_truncated_gz_imports_what_was_readable_and_exits_non_zero(tmp_path: Path, cli_store, capsys) -> None:
    text = HEADER + "\n" + "".join(_row(i, user=f"user-{i * 7919 % 100_003:06d}") + "\n" for i in range(3000))
    packed = gzip.compress(text.encode(), mtime=0)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])
    assert main(["import", str(path)]) == 1
    out = capsys.readouterr()
    errors = [line for line in out.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {path}: unreadable from line ")
    assert "Traceback" not in out.err
    wb = fincommerce.default_workbench()
    report = wb.import_events(path, show_progress=False)
    assert report.broken is not None and report.rows == report.broken.line - 2 > 0
    assert report.events_logged == 0 and report.already_present + report.n_bad == report.rows
    assert wb.store.count(wb.interactions) == report.already_present


def test_a_pandas_round_trip_imports_nothing_new(tmp_path: Path, wb: Workbench) -> None:
    original = tmp_path / "original.csv"
    original.write_text(HEADER + "\n" + "".join(_row(i) + "\n" for i in range(300)))
    resaved = tmp_path / "resaved.csv"
    pd.read_csv(original).to_csv(resaved, index=False)
    first = wb.import_events(original, show_progress=False)
    again = wb.import_events(resaved, show_progress=False)
    assert first.events_logged == 300 and again.events_logged == 0 and again.already_present == 300
