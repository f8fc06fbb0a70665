"""Tests for fincommerce.tracking.rees46: a hand-made known-answer file, edge cases, and the real REES46 samples."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from fincommerce.tracking.event_ids import EVENT_ID_NAMESPACE
from fincommerce.tracking.rees46 import COLUMNS, EVENT_TYPE_MAP, BadRow, ParsedLog, iter_rees46, read_rees46

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "rees46_sample.csv"
HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"


def _shared_rees46() -> Path:
    """Shared data lives beside the repo clone; CI may point elsewhere via FINCOMMERCE_SHARED_DIR."""
    env = os.environ.get("FINCOMMERCE_SHARED_DIR")
    shared = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    return shared / "datasets" / "rees46"


def _real(name: str) -> Path:
    path = _shared_rees46() / name
    if not path.is_file():
        pytest.skip(f"real REES46 file not available: {path}")
    return path


def _ts(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def _write(tmp_path: Path, text: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.fixture(scope="module")
def sample() -> ParsedLog:
    return read_rees46(SAMPLE)


# --- known-answer fixture ------------------------------------------------------------------------

def test_sample_counts(sample: ParsedLog) -> None:
    assert sample.n_lines == 25
    assert len(sample.events) == 20
    assert sample.skipped_types == {"remove_from_cart": 1}
    assert sample.events["interaction_type"].value_counts().to_dict() == {
        "view": 13, "add_to_cart": 4, "purchase": 3}
    assert sample.events["user_id"].nunique() == 5
    assert sample.events["product_id"].nunique() == 9
    assert sample.events["user_session"].nunique() == 6


def test_sample_bad_rows(sample: ParsedLog) -> None:
    assert sample.bad_rows == [
        BadRow(13, "price: expected a non-negative number, got 'abc'"),
        BadRow(14, "event_type: unknown 'click'"),
        BadRow(15, "user_id: empty"),
        BadRow(26, "expected 9 fields, got 8"),
    ]


def test_sample_columns_and_dtypes(sample: ParsedLog) -> None:
    ev = sample.events
    assert tuple(ev.columns) == COLUMNS
    assert ev["timestamp"].dtype == "float64"
    assert ev["price"].dtype == "float64"
    for c in set(COLUMNS) - {"timestamp", "price"}:
        assert pd.api.types.is_string_dtype(ev[c]), c
        assert ev[c].notna().all(), c
    assert set(ev["interaction_type"]) <= set(EVENT_TYPE_MAP.values())


def test_sample_values(sample: ParsedLog) -> None:
    ev = sample.events
    first = ev.iloc[0]
    assert first["timestamp"] == 1569888000.0  # 2019-10-01 00:00:00 UTC
    assert first["interaction_type"] == "view"
    assert first["product_id"] == "44600062"
    assert first["category_id"] == "2103807459595387724"
    assert first["category_code"] == ""
    assert first["brand"] == "shiseido"
    assert first["price"] == pytest.approx(35.79)
    assert first["user_id"] == "541312140"
    assert first["user_session"] == "72d76fde-8bb3-4e00-8c23-a032dfed738c"
    assert ev.iloc[3]["interaction_type"] == "add_to_cart"  # "cart" is renamed
    last = ev.iloc[-1]
    assert last["timestamp"] == 1569888540.0  # 00:09:00, the truncated 00:10:00 row is dropped
    assert (last["interaction_type"], last["product_id"], last["brand"]) == ("add_to_cart", "4804056", "apple")
    free = ev[ev["product_id"] == "5100816"].iloc[0]  # both category_code and brand missing, price 0
    assert (free["category_code"], free["brand"], free["price"]) == ("", "", 0.0)
    assert ev["timestamp"].is_monotonic_increasing  # file order is kept
    purchases = ev[ev["interaction_type"] == "purchase"]
    assert list(purchases["product_id"]) == ["1004856", "1005253", "3900821"]
    assert purchases["price"].sum() == pytest.approx(130.76 + 261.27 + 33.20)


def test_the_same_event_spelt_differently_has_one_id(tmp_path: Path) -> None:
    """`UTC`, `+00:00`, `Z` and `+02:00` (two hours later on the clock) are one moment: one event id."""
    spellings = ["2019-10-01 00:00:00 UTC", "2019-10-01 00:00:00+00:00", "2019-10-01T00:00:00Z",
                 "2019-10-01 02:00:00+02:00"]
    ids = {read_rees46(_write(tmp_path, f"{HEADER}\n{t},view,1,2,,b,1.00,9,s\n")).events["event_id"].iloc[0]
           for t in spellings}
    assert len(ids) == 1
    other = read_rees46(_write(tmp_path, f"{HEADER}\n2019-10-01 00:00:01 UTC,view,1,2,,b,1.00,9,s\n"))
    assert other.events["event_id"].iloc[0] not in ids
    assert EVENT_ID_NAMESPACE == uuid.UUID("6f1d3c5e-2b7a-5c4e-9a51-4e2a1f0b7d93")  # must never change


def test_event_ids_deterministic_across_reads(tmp_path: Path) -> None:
    a, b = read_rees46(SAMPLE), read_rees46(str(SAMPLE))
    assert list(a.events["event_id"]) == list(b.events["event_id"])
    pd.testing.assert_frame_equal(a.events, b.events)
    # CRLF line endings do not change ids: the trailing newline is not part of the hashed text
    crlf = _write(tmp_path, SAMPLE.read_text(encoding="utf-8").replace("\n", "\r\n"))
    c = read_rees46(crlf)
    assert list(c.events["event_id"]) == list(a.events["event_id"])
    assert c.bad_rows == a.bad_rows


def test_identical_lines_are_one_event_and_counted_as_duplicates_in_the_file(tmp_path: Path) -> None:
    line = "2019-10-01 00:00:00 UTC,view,1,2,,b,1.00,9,s"
    parsed = read_rees46(_write(tmp_path, f"{HEADER}\n{line}\n{line}\n"))
    assert len(parsed.events) == 1 and parsed.duplicates_in_file == 1


def test_logging(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fincommerce.tracking.rees46"):
        read_rees46(SAMPLE)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(warnings) == 1 and len(infos) == 1
    msg = warnings[0].getMessage()
    assert "4 malformed" in msg and "line 13" in msg and "line 15" in msg and "line 26" not in msg
    assert "20 events" in infos[0].getMessage()


# --- layouts and edge cases ----------------------------------------------------------------------

def test_headerless_layout_both_timestamp_styles(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "\n".join(
            [
                "0,2019-11-17 13:06:16 UTC,purchase,11200419,2053013562946749253,appliances.personal.scales,"
                "maxwell,12.36,512363650",
                "1,2019-11-30 14:38:07+00:00,purchase,1005253,2053013555631882655,electronics.smartphone,"
                "xiaomi,261.27,478741761",
                "2,2019-11-02 14:38:14 UTC,view,21405841,2053013561579406073,,,216.48,512363895",
                "3,not a time,purchase,1004856,2053013555631882655,electronics.smartphone,samsung,128.42,512363921",
                "4,2019-11-03 11:05:06 UTC,purchase,1004767,2053013555631882655",
            ]
        )
        + "\n",
    )
    parsed = read_rees46(path)
    ev = parsed.events
    assert parsed.n_lines == 5
    assert list(ev["timestamp"]) == [_ts("2019-11-17 13:06:16"), _ts("2019-11-30 14:38:07"), _ts("2019-11-02 14:38:14")]
    assert list(ev["product_id"]) == ["11200419", "1005253", "21405841"]  # the leading index is not a field
    assert list(ev["user_id"]) == ["512363650", "478741761", "512363895"]
    assert list(ev["user_session"]) == ["", "", ""]
    assert list(ev["interaction_type"]) == ["purchase", "purchase", "view"]
    assert ev.iloc[2][["category_code", "brand"]].tolist() == ["", ""]
    assert parsed.bad_rows == [BadRow(4, "event_time: unparseable 'not a time'"), BadRow(5, "expected 9 fields, got 5")]


@pytest.mark.parametrize("price", ["-1", "nan", "inf", "-inf", "", "1,5"])
def test_bad_prices(tmp_path: Path, price: str) -> None:
    field = f'"{price}"' if "," in price else price
    parsed = read_rees46(_write(tmp_path, f"{HEADER}\n2019-10-01 00:00:00 UTC,view,1,2,,b,{field},9,s\n"))
    assert parsed.events.empty
    assert parsed.bad_rows == [BadRow(2, f"price: expected a non-negative number, got {price!r}")]


def test_row_level_rules(tmp_path: Path) -> None:
    rows = [
        "2019-10-01 00:00:00 UTC,view,,2,,b,1.00,9,s",          # 2 empty product_id
        "2019-10-01 00:00:00 UTC,view,1,2,,b,1.00,  ,s",        # 3 blank user_id
        "2019-10-01 00:00:00 UTC,VIEW,1,2,,b,1.00,9,s",         # 4 event types are case-sensitive
        "2019-10-01 00:00:00 UTC,remove_from_cart,1,2,,b,x,9,s",  # 5 skipped before any other check
        "",                                                     # 6 blank line
        '2019-10-01 00:00:01 UTC,view,1,2,"a,b",b,1e1,9,s',      # 7 quoted comma is one field
        '2019-10-01 00:00:02 UTC,view,1,2,"multi',              # 8-9 a line is a record: a quote
        'line",b,2.50,9,s',                                     #     cannot swallow the next lines
        "2019-10-01 00:00:03 UTC,cart,1,2,,b,3,9,s",            # 10
        "2019-10-01T00:00:04Z,purchase,1,2,,b,4,9,s",           # 11 other ISO-8601 UTC spellings
    ]
    parsed = read_rees46(_write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"))
    assert parsed.bad_rows == [
        BadRow(2, "product_id: empty"),
        BadRow(3, "user_id: empty"),
        BadRow(4, "event_type: unknown 'VIEW'"),
        BadRow(6, "expected 9 fields, got 0"),
        BadRow(8, "csv error: unexpected end of data"),
        BadRow(9, "expected 9 fields, got 5"),
    ]
    assert parsed.skipped_types == {"remove_from_cart": 1}
    assert parsed.n_lines == 10
    ev = parsed.events
    assert list(ev["category_code"]) == ["a,b", "", ""]
    assert list(ev["price"]) == [10.0, 3.0, 4.0]
    assert list(ev["timestamp"]) == [1569888001.0, 1569888003.0, 1569888004.0]


def test_csv_error_is_a_bad_row_and_parsing_continues(tmp_path: Path) -> None:
    ok = "2019-10-01 00:00:00 UTC,view,1,2,,b,1.00,9,s"
    after = ok.replace("view", "cart")
    huge = ok.replace(",b,", "," + "x" * 200_000 + ",")  # over csv's default field size limit
    parsed = read_rees46(_write(tmp_path, "\n".join([HEADER, ok, huge, after]) + "\n"))
    assert [(b.line, b.reason.startswith("brand: longer than")) for b in parsed.bad_rows] == [(3, True)]
    assert parsed.n_lines == 3
    assert list(parsed.events["interaction_type"]) == ["view", "add_to_cart"]


def test_header_with_other_column_order(tmp_path: Path) -> None:
    header = "user_id,event_type,event_time,price,product_id,category_id,category_code,brand"
    parsed = read_rees46(_write(tmp_path, f"{header}\n7,cart,2019-10-01 00:00:00 UTC,5.5,42,3,c.d,acme\n"))
    row = parsed.events.iloc[0]
    assert (row["user_id"], row["product_id"], row["price"], row["user_session"]) == ("7", "42", 5.5, "")
    assert row["interaction_type"] == "add_to_cart" and not parsed.bad_rows


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_rees46(missing)


@pytest.mark.parametrize("content", ["", HEADER + "\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    parsed = read_rees46(_write(tmp_path, content))
    assert parsed.events.empty
    assert tuple(parsed.events.columns) == COLUMNS
    assert parsed.events["timestamp"].dtype == "float64" and parsed.events["price"].dtype == "float64"
    assert pd.api.types.is_string_dtype(parsed.events["event_id"])
    assert (parsed.bad_rows, parsed.skipped_types, parsed.n_lines) == ([], {}, 0)


def test_all_rows_bad(tmp_path: Path) -> None:
    parsed = read_rees46(_write(tmp_path, f"{HEADER}\n2019-10-01 00:00:00 UTC,view,1,2,,b,-3,9,s\n"))
    assert parsed.events.empty and tuple(parsed.events.columns) == COLUMNS
    assert len(parsed.bad_rows) == 1


def test_unrecognised_layout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="layout"):
        read_rees46(_write(tmp_path, "a,b,c\n1,2,3\n"))


# --- real REES46 samples (documented in shared/datasets/rees46/SOURCE.md) --------------------------

def test_real_oct_head_sample() -> None:
    path = _real("2019-Oct_head_sample.csv")
    text = path.read_text(encoding="utf-8")
    last_line = text.count("\n") + (0 if text.endswith("\n") else 1)
    parsed = read_rees46(path)
    ev = parsed.events
    assert len(ev) == 17_429 and parsed.duplicates_in_file == 5  # the file repeats 5 lines verbatim
    assert len(parsed.bad_rows) == 1 and parsed.bad_rows[0].line == last_line == 17_436
    assert parsed.bad_rows[0].reason == "expected 9 fields, got 8"
    assert parsed.n_lines == 17_435 and parsed.skipped_types == {}
    assert ev["interaction_type"].value_counts().to_dict() == {"view": 17_051, "purchase": 214, "add_to_cart": 164}
    assert (ev["user_id"].nunique(), ev["product_id"].nunique(), ev["user_session"].nunique()) == (4_504, 6_493, 5_066)
    assert ev["timestamp"].is_monotonic_increasing
    assert (ev["timestamp"].min(), ev["timestamp"].max()) == (_ts("2019-10-01 00:00:00"), _ts("2019-10-01 02:50:00"))
    assert tuple(ev.iloc[0][["product_id", "brand", "user_id"]]) == ("44600062", "shiseido", "541312140")
    assert (ev["price"].min(), ev["price"].max()) == (0.0, 2574.07)
    valid_lines = text.split("\n")[1:17_435]
    assert ev["event_id"].is_unique and len(set(valid_lines)) == 17_429


@pytest.mark.parametrize(("name", "first", "last", "n_products"), [
    ("2019-Nov_purchases_10kusers_allcat.csv", "2019-11-01 00:04:51", "2019-11-30 18:07:58", 4_103),
    ("2019-Nov_purchases_10kusers_electronics.csv", "2019-11-01 03:41:06", "2019-11-30 23:57:30", 498),
])
def test_real_nov_purchases(name: str, first: str, last: str, n_products: int) -> None:
    parsed = read_rees46(_real(name))
    ev = parsed.events
    assert len(ev) == 10_000 and parsed.n_lines == 10_000
    assert parsed.bad_rows == [] and parsed.skipped_types == {}
    assert set(ev["interaction_type"]) == {"purchase"}
    assert ev["user_id"].nunique() == 10_000
    assert ev["product_id"].nunique() == n_products
    assert (ev["user_session"] == "").all()
    assert (ev["timestamp"].min(), ev["timestamp"].max()) == (_ts(first), _ts(last))


def test_chunks_give_the_same_events_and_repeats_across_chunks_are_duplicates(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    repeated = _write(tmp_path, text.rstrip("\n") + "\n" + text.split("\n", 2)[1] + "\n")  # line 2 again, last
    whole = read_rees46(repeated)
    parts = list(iter_rees46(repeated, chunk_lines=7))
    assert len(parts) == 4
    assert pd.concat([p.events for p in parts], ignore_index=True).equals(whole.events)
    assert sum(p.duplicates_in_file for p in parts) == whole.duplicates_in_file == 1
    assert [b for p in parts for b in p.bad_rows] == whole.bad_rows
