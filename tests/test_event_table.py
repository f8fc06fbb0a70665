"""Any event log in: CSV/CSV.gz/Parquet, mapped columns and types, REES46 as one layout; bad rows by line."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from fincommerce.errors import ValidationError
from fincommerce.tracking.event_table import COLUMNS, read_event_table
from fincommerce.ui.pipeline import REES46_SAMPLE

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rees46"


def test_the_shipped_rees46_sample_loads_whole() -> None:
    table = read_event_table(REES46_SAMPLE)
    ev = table.events
    assert list(ev.columns) == list(COLUMNS)
    # 17,434 valid rows: 5 exact repeats are kept once; the cut-off last line is reported with its number.
    assert table.n_rows == 17_435 and len(ev) == 17_429 and table.duplicates == 5
    assert [(b.line, b.reason) for b in table.bad_rows] == [(17_436, "expected 9 fields, got 8")]
    assert ev.interaction_type.value_counts().to_dict() == {"view": 17_051, "purchase": 214, "add_to_cart": 164}
    assert ev.timestamp.is_monotonic_increasing and ev.timestamp.iloc[0] == 1569888000.0
    assert ev.session_id.nunique() == 5_066 and (ev.session_id.astype(str) != "").all()
    assert ev.name.astype(str).str.len().gt(0).all()


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/datasets/rees46")
def test_compressed_and_plain_files_give_the_same_table(tmp_path: Path) -> None:
    plain = read_event_table(SHARED / "2019-Oct_head_sample.csv").events
    pd.testing.assert_frame_equal(plain, read_event_table(REES46_SAMPLE).events)
    headerless = read_event_table(SHARED / "2019-Nov_purchases_10kusers_allcat.csv")
    assert len(headerless.events) == 10_000 and set(headerless.events.interaction_type.astype(str)) == {"purchase"}


def _write(tmp_path: Path, text: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_own_column_names_and_types_are_mapped_and_bad_rows_named_by_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "ts,uid,pid,action,price\n"
                            "2024-01-01T00:00:00Z,u1,p1,look,10\n"  # line 2
                            "1704067260,u2,p2,buy,20.5\n"  # line 3: unix seconds
                            "2024-01-01 00:02:00,u3,p1,wishlist,1\n"  # line 4: unknown type
                            "2024-01-01 00:03:00,,p1,look,1\n"  # line 5: no user
                            "1990-01-01 00:00:00,u4,p1,look,1\n"  # line 6: out of range
                            'yesterday,u5,p1,look,1\n'  # line 7: not a time
                            '2024-01-01 00:04:00,u6,"p1,look,1\n'  # line 8: stray quote, costs its own line only
                            "2024-01-01 00:05:00,u7,p3,look,-2\n"  # line 9: negative price
                            "2024-01-01 00:06:00,u8,p3,buy,\n")  # line 10: no price is fine
    table = read_event_table(path, columns={"ts": "timestamp", "uid": "user_id", "pid": "product_id",
                                            "action": "interaction_type"},
                             types={"look": "view", "buy": "purchase"})
    assert table.events.user_id.astype(str).tolist() == ["u1", "u2", "u8"]
    assert table.events.interaction_type.astype(str).tolist() == ["view", "purchase", "purchase"]
    assert table.events.timestamp.tolist() == [1704067200.0, 1704067260.0, 1704067560.0]
    reasons = {b.line: b.reason for b in table.bad_rows}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9]
    assert reasons[4].startswith("interaction_type: unknown 'wishlist'") and reasons[5] == "user_id: empty"
    assert "outside" in reasons[6] and reasons[7].startswith("timestamp: expected ISO 8601")
    assert reasons[8].startswith("csv error") and reasons[9].startswith("price: expected a non-negative number")


def test_parquet_gives_the_same_events_as_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": ["a", "b", "c"], "product_id": ["p1", "p2", "p1"],
                          "interaction_type": ["view", "add_to_cart", "purchase"],
                          "timestamp": ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"],
                          "brand": ["X", "Y", "X"]})
    frame.to_parquet(tmp_path / "log.parquet")
    frame.to_csv(tmp_path / "log.csv", index=False)
    with open(tmp_path / "log.csv", "rb") as src, gzip.open(tmp_path / "log.csv.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    tables = [read_event_table(tmp_path / n).events for n in ("log.parquet", "log.csv", "log.csv.gz")]
    for other in tables[1:]:
        pd.testing.assert_frame_equal(tables[0], other)
    assert tables[0].brand.astype(str).tolist() == ["X", "Y", "X"]


def test_a_missing_column_is_named_with_the_columns_found(tmp_path: Path) -> None:
    path = _write(tmp_path, "user,product_id,interaction_type,timestamp\nu,p,view,1704067200\n")
    with pytest.raises(ValidationError) as info:
        read_event_table(path)
    assert "column user_id" in str(info.value) and "user, product_id, interaction_type, timestamp" in str(info.value)
    with pytest.raises(ValidationError, match="a mapping onto"):
        read_event_table(path, columns={"user": "customer"})


def test_a_log_with_no_usable_row_is_one_clear_error(tmp_path: Path) -> None:
    unknown = _write(
        tmp_path, "user_id,product_id,interaction_type,timestamp\nu,p,hover,1704067200\nu,p,hover,1704067201\n"
    )
    with pytest.raises(ValidationError, match="unknown 'hover'.*none usable: 2 bad interaction_type"):
        read_event_table(unknown)
    with pytest.raises(ValidationError, match="none usable"):
        read_event_table(_write(tmp_path, "user_id,product_id,interaction_type,timestamp\n", "empty.csv"))
    with pytest.raises(FileNotFoundError):
        read_event_table(tmp_path / "absent.csv")
