"""Hostile event files read whole: broken .gz, column collisions, unknown type targets, odd Parquet, junk
in bulk; and event ids that survive a pandas round trip (issue 23, items 5-10)."""
from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fincommerce.errors import ValidationError
from fincommerce.tracking.bad_rows import MAX_BAD_ROWS_KEPT
from fincommerce.tracking.event_table import read_event_table
from fincommerce.tracking.lines import MAX_LINE_CHARS
from fincommerce.tracking.rees46 import read_rees46

DATA = Path(__file__).parent / "data"
HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
GOOD = "2019-10-01 00:00:{s:02d} UTC,view,{p},2053013555631882655,electronics.smartphone,samsung,35.80,{u},s1"
T0 = 1_704_067_200  # 2024-01-01 UTC


def _rees46_text(n: int) -> str:
    return HEADER + "\n" + "".join(GOOD.format(s=i % 60, p=1000 + i, u=500 + i) + "\n" for i in range(n))


def _truncated_gz(tmp_path: Path, text: str) -> Path:
    """A .gz cut in the middle of its compressed stream, as an interrupted download leaves it."""
    packed = gzip.compress(text.encode(), mtime=0)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    return path


def test_a_truncated_gz_gives_what_was_readable_and_says_where_it_broke(tmp_path: Path) -> None:
    text = "".join(GOOD.format(s=i % 60, p=1000 + i, u=f"user-{i:06d}-{i * 7919 % 10007}") + "\n"
                   for i in range(3000))
    path = _truncated_gz(tmp_path, HEADER + "\n" + text)
    table = read_event_table(path)
    assert table.broken is not None and 1 < table.broken.line <= 3001
    assert table.n_rows == table.broken.line - 2 and len(table.events) >= table.n_rows - 1
    assert "unreadable from line" in table.summary()
    generic = tmp_path / "generic.csv.gz"
    generic.write_bytes(_truncated_gz(tmp_path, "user_id,product_id,interaction_type,timestamp\n" + "".join(
        f"u{i},p{i % 97},view,{T0 + i}\n" for i in range(3000))).read_bytes())
    table = read_event_table(generic)
    assert table.broken is not None and table.n_rows == table.broken.line - 2 and len(table.events) > 0
    not_gz = tmp_path / "plain.csv.gz"
    not_gz.write_text(_rees46_text(3))
    with pytest.raises(ValidationError, match="plain.csv.gz.*Not a gzipped file"):
        read_event_table(not_gz)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_column_map_collisions_are_one_error_naming_both(tmp_path: Path, suffix: str) -> None:
    n = 100
    frame = pd.DataFrame({"user_id": ["anonymous"] * n, "customer": [f"c{i}" for i in range(n)], "product_id": "p",
                          "interaction_type": "view", "timestamp": [T0 + i for i in range(n)],
                          "ts_local": "2024-01-01T00:00:00", "ts_utc": "2024-01-01T05:00:00Z"})
    path = tmp_path / f"log.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    with pytest.raises(ValidationError, match=r"column user_id.*'user_id' \(the file's own\) and 'customer'"):
        read_event_table(path, columns={"customer": "user_id"})
    with pytest.raises(ValidationError, match=r"column timestamp.*'timestamp'.*'ts_local'.*'ts_utc'"):
        read_event_table(path, columns={"ts_local": "timestamp", "ts_utc": "timestamp"})
    swapped = read_event_table(path, columns={"customer": "user_id", "user_id": "session_id"})
    assert swapped.events.user_id.nunique() == n  # a mapped name whose own column is mapped away is fine


def test_a_repeated_csv_column_name_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(f"user_id,product_id,interaction_type,timestamp,user_id\nu,p,view,{T0},v\n")
    with pytest.raises(ValidationError, match="column user_id.*'user_id'.*and 'user_id'"):
        read_event_table(path)


def test_types_targets_must_be_interaction_types(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(f"user_id,product_id,interaction_type,timestamp\nu,p,order,{T0}\n")
    with pytest.raises(ValidationError, match=r"types: expected targets among view, click, add_to_cart, "
                                              r"purchase, got \['purchases'\]"):
        read_event_table(path, types={"order": "purchases"})
    assert read_event_table(path, types={"order": "purchase"}).events.interaction_type.tolist() == ["purchase"]


def _parquet(tmp_path: Path, name: str, **columns: pa.Array) -> Path:
    n = len(next(iter(columns.values())))
    base = {"user_id": pa.array([f"u{i}" for i in range(n)]), "product_id": pa.array(["p"] * n),
            "interaction_type": pa.array(["view"] * n), "timestamp": pa.array([float(T0 + i) for i in range(n)])}
    path = tmp_path / name
    pq.write_table(pa.table({**base, **columns}), path)
    return path


def test_parquet_row_problems_are_bad_rows_and_file_problems_one_error(tmp_path: Path) -> None:
    n = 1000
    stamps = [T0 * 1_000_000 + i for i in range(n)]
    stamps[500] = 253_402_214_400 * 1_000_000  # 9999-12-31
    far = read_event_table(_parquet(tmp_path, "far.parquet", timestamp=pa.array(stamps, pa.timestamp("us", "UTC"))))
    assert len(far.events) == n - 1 and [b.line for b in far.bad_rows] == [501]
    assert far.bad_rows[0].reason.startswith("timestamp: 253402214400.0 is outside")
    assert far.events.timestamp.iloc[0] == T0

    ids = [f"u{i}".encode() for i in range(n)]
    ids[3] = b"\xff\xfe"
    binary = read_event_table(_parquet(tmp_path, "bin.parquet", user_id=pa.array(ids, pa.binary())))
    assert len(binary.events) == n - 1 and binary.bad_rows[0].line == 4 and "UTF-8" in binary.bad_rows[0].reason

    nested = [[1.0, 2.0] if i in (7, 9) else None for i in range(n)]
    prices = read_event_table(_parquet(tmp_path, "price.parquet", price=pa.array(nested, pa.list_(pa.float64()))))
    assert len(prices.events) == n - 2 and [b.line for b in prices.bad_rows] == [8, 10]
    assert prices.bad_counts == {"price": 2}

    users = [[f"u{i}"] for i in range(n)]
    with pytest.raises(ValidationError, match="none usable: 1,000 bad user_id"):
        read_event_table(_parquet(tmp_path, "users.parquet", user_id=pa.array(users)))

    dup = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array(["a"]), pa.array(["p"]), pa.array(["view"]), pa.array([float(T0)]),
                             pa.array(["b"])], names=["user_id", "product_id", "interaction_type", "timestamp",
                                                      "user_id"]), dup)
    with pytest.raises(ValidationError, match="column user_id"):
        read_event_table(dup)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(dup.read_bytes()[:-30])
    with pytest.raises(ValidationError, match="cut.parquet: expected a readable Parquet file"):
        read_event_table(cut)


def test_ids_come_from_normalised_values(tmp_path: Path) -> None:
    """A pandas round trip respells prices (35.80 → 35.8); ids of REES46's own spelling never change."""
    events = read_rees46(DATA / "rees46_sample.csv").events
    assert events.event_id.head(2).tolist() == ["65e07be9-7d5c-5e22-a68a-8d17c82e7080",
                                                "2327eaba-7059-51c4-91f8-33db3a04e45d"]  # ids stores already hold
    original = tmp_path / "original.csv"
    original.write_text(_rees46_text(300))
    resaved = tmp_path / "resaved.csv"
    pd.read_csv(original).to_csv(resaved, index=False)
    assert "35.8," in resaved.read_text() and "35.80" not in resaved.read_text()
    assert read_rees46(original).events.event_id.tolist() == read_rees46(resaved).events.event_id.tolist()


def test_junk_in_bulk_is_counted_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "junk.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(_rees46_text(2) + "junk\n" * 20_000 + GOOD.format(s=59, p=9, u=9) + "\n")
    table = read_event_table(path)
    assert len(table.events) == 3 and table.n_rows == 20_003
    assert table.n_bad == 20_000 and table.bad_counts == {"expected N fields": 20_000}
    assert len(table.bad_rows) == MAX_BAD_ROWS_KEPT and table.bad_rows[0].line == 4
    generic = tmp_path / "generic.csv"
    generic.write_text("user_id,product_id,interaction_type,timestamp\n" + f"u,p,view,{T0}\n" + "x\n" * 20_000)
    table = read_event_table(generic)
    assert table.n_bad == 20_000 and len(table.bad_rows) == MAX_BAD_ROWS_KEPT


def test_an_over_long_line_is_read_past_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(_rees46_text(1))
        for _ in range(12):
            fh.write("x" * 1_000_000)
        fh.write("\n" + GOOD.format(s=1, p=2, u=3) + "\n")
    tracemalloc.start()
    table = read_event_table(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(table.events) == 2 and [(b.line, b.reason) for b in table.bad_rows] == [
        (3, f"line longer than {MAX_LINE_CHARS:,} characters")]
    assert peak < 8e6, f"peak {peak / 1e6:.1f} MB for a 12 MB line"


def test_bad_rows_of_a_real_sample_keep_their_lines() -> None:
    table = read_event_table(DATA / "rees46_sample.csv")
    assert [b.line for b in table.bad_rows] == sorted(b.line for b in table.bad_rows)
    assert table.n_bad == len(table.bad_rows) == sum(table.bad_counts.values()) > 0
    assert np.isfinite(table.events.timestamp).all()
