"""Seeded fuzzing of event files (CSV, CSV.gz, Parquet): random junk, truncation, long fields, odd Unicode,
NaN, bad timestamps, column collisions. Whatever the file, the package raises only its own clear error,
accounts for every row (events + bad + skipped + repeated = rows) and writes nothing half-way."""
from __future__ import annotations

import gzip
import io
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fincommerce import Workbench
from fincommerce.errors import ValidationError
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.bad_rows import MAX_BAD_ROWS_KEPT
from fincommerce.tracking.event_table import COLUMNS, read_event_table
from fincommerce.tracking.importers import import_rees46
from fincommerce.tracking.lines import LogLines, line_record
from fincommerce.tracking.rees46 import MIN_EVENT_TIME

SEED = 20_231_123
LINE_CASES = 4_600  # byte-level: the line reader every parser shares
TABLE_CASES = 400  # whole files through read_event_table
IMPORT_CASES = 8  # whole files through the real store and model: 5,008 cases in all
REES46 = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
TYPES = ["view", "cart", "purchase", "remove_from_cart", "click", "add_to_cart", "hover", "", "VIEW"]
TIMES = ["2024-01-01T00:00:00Z", "2019-10-01 00:00:00 UTC", "1704067200", "9999-12-31 00:00:00", "nan", "", "1e300",
         "-5", "yesterday", "2024-02-30T00:00:00", "1704067200.5", "inf", "2019-10-01 02:00:00+02:00"]
PRICES = ["35.80", "35.8", "nan", "inf", "-1", "", "1e308", "abc", "0", '"1,5"', "1e-7"]
ODD = ["é", "\u202e", "\x00", "İ" * 150, "🙂", '"a""b"', '"x,y"', "\t", "  ", "\ufeff", "\u0085", "a\rb", '"open']


def _text(rng: np.random.Generator, ids: str) -> str:
    roll = rng.random()
    if roll < 0.7:
        return f"{ids}{rng.integers(0, 5)}"
    if roll < 0.9:
        return str(rng.choice(ODD))
    return "x" * int(rng.integers(150, 1_500))


def _csv_bytes(rng: np.random.Generator) -> tuple[bytes, dict | None, dict | None]:
    """A small CSV (REES46 or own header) with hostile rows; also random columns=/types= arguments."""
    if rng.random() < 0.5:
        header = REES46.split(",")
    else:
        header = ["user_id", "product_id", "interaction_type", "timestamp"]
        header += list(rng.choice(["price", "brand", "session_id", "customer", "ts", "user_id", "query"],
                                  size=int(rng.integers(0, 3)), replace=False))
        rng.shuffle(header)
    columns = types = None
    if rng.random() < 0.2:
        columns = {str(rng.choice(["customer", "ts", "user_id", "price"])): str(rng.choice(list(COLUMNS) + ["nope"]))}
    if rng.random() < 0.2:
        types = {"hover": str(rng.choice(["view", "purchase", "purchases"]))}
    values = {"event_time": TIMES, "timestamp": TIMES, "ts": TIMES, "event_type": TYPES, "interaction_type": TYPES,
              "price": PRICES}
    lines = [",".join(header)]
    for _ in range(int(rng.integers(0, 12))):
        row = [str(rng.choice(values[h])) if h in values and rng.random() < 0.8 else _text(rng, h[:1])
               for h in header]
        if rng.random() < 0.1:
            row = row[: int(rng.integers(0, len(row)))]
        lines.append(",".join(row))
    data = "\n".join(lines).encode("utf-8", "surrogatepass") + (b"\n" if rng.random() < 0.8 else b"")
    if rng.random() < 0.15:
        at = int(rng.integers(0, len(data) + 1))
        data = data[:at] + bytes(rng.integers(0, 256, size=int(rng.integers(1, 40)), dtype=np.uint8)) + data[at:]
    return data, columns, types


def _parquet_table(rng: np.random.Generator) -> pa.Table:
    n = int(rng.integers(1, 12))
    users: list = [_text(rng, "u") for _ in range(n)]
    kind = rng.integers(0, 4)
    user_col = (pa.array(users) if kind == 0 else pa.array([u.encode("utf-8", "surrogatepass")[:3] for u in users])
                if kind == 1 else pa.array([[u] for u in users]) if kind == 2 else
                pa.array([int(x) for x in rng.integers(-5, 5, n)]))
    seconds = rng.choice([1.7e9, np.nan, np.inf, 1e300, -5.0, 9.5e8, 2.5e11], size=n)
    stamp_kind = rng.integers(0, 3)
    stamp_col = (pa.array(seconds) if stamp_kind == 0 else
                 pa.array([int(s * 1e6) if np.isfinite(s) and abs(s) < 9e12 else None for s in seconds],
                          pa.timestamp("us", "UTC")) if stamp_kind == 1 else
                 pa.array([str(rng.choice(TIMES)) for _ in range(n)]))
    prices = rng.choice([1.0, np.nan, -1.0, np.inf], size=n)
    columns = {"user_id": user_col, "product_id": pa.array([_text(rng, "p") for _ in range(n)]),
               "interaction_type": pa.array([str(rng.choice(TYPES)) for _ in range(n)]).dictionary_encode(),
               "timestamp": stamp_col,
               "price": pa.array(prices) if rng.random() < 0.8 else pa.array([[p] for p in prices])}
    names = list(columns)
    if rng.random() < 0.1:
        names[-1] = str(rng.choice(["user_id", "timestamp", "extra"]))
    return pa.table(list(columns.values()), names=names)


def _expected_lines(data: bytes) -> int:
    return len(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="").readlines())


def _check_table(table, data_rows: int | None) -> None:
    ev = table.events
    assert table.n_rows == len(ev) + table.n_bad + sum(table.skipped_types.values()) + table.duplicates
    if data_rows is not None and table.broken is None:
        assert table.n_rows == data_rows
    assert set(ev.interaction_type.astype(str)) <= set(INTERACTION_TYPES)
    assert np.isfinite(ev.timestamp).all() and (ev.timestamp >= MIN_EVENT_TIME).all()
    assert (ev.user_id.astype(str).str.strip() != "").all() and (ev.product_id.astype(str).str.strip() != "").all()
    lines = [b.line for b in table.bad_rows]
    assert lines == sorted(lines) and len(lines) <= MAX_BAD_ROWS_KEPT and len(lines) == min(table.n_bad, 1000)


def test_the_line_reader_survives_any_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED)
    for case in range(LINE_CASES):
        blob = bytes(rng.integers(0, 256, size=int(rng.integers(0, 400)), dtype=np.uint8))
        pieces = [blob, b"\n" * int(rng.integers(0, 3)), b"x" * int(rng.integers(0, 600)), "é🙂\u202e".encode(),
                  b"\r\n", b'"', b","]
        data = b"".join(pieces[i] for i in rng.permutation(len(pieces)))
        compressed = case % 2 == 1
        path = tmp_path / ("f.csv.gz" if compressed else "f.csv")
        if compressed:
            packed = gzip.compress(data, mtime=0)
            cut = int(rng.integers(0, len(packed) + 1)) if rng.random() < 0.5 else len(packed)
            path.write_bytes(packed[:cut])
        else:
            path.write_bytes(data)
        reader = LogLines(path, max_chars=300)
        got = list(reader)
        assert [n for n, _ in got] == list(range(1, len(got) + 1)), case
        assert all(text is None or len(text) <= 302 for _, text in got), case
        if not compressed or cut == len(packed):
            assert reader.broken is None and len(got) == _expected_lines(data), case
        for _, text in got:
            record = line_record(text, 9)
            assert isinstance(record, str) or len(record) == 9, case


def test_any_small_event_file_loads_or_is_one_clear_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED + 1)
    logging.disable(logging.WARNING)
    outcomes = {"table": 0, "error": 0}
    try:
        for case in range(TABLE_CASES):
            form = ("csv", "csv.gz", "parquet")[case % 3]
            path = tmp_path / f"log{case}.{form}"
            columns = types = None
            expected: int | None = None
            if form == "parquet":
                table = _parquet_table(rng)
                sink = pa.BufferOutputStream()
                pq.write_table(table, sink)
                raw = sink.getvalue().to_pybytes()
                if rng.random() < 0.15:
                    raw = raw[: int(rng.integers(0, len(raw)))]
                else:
                    expected = table.num_rows
                path.write_bytes(raw)
            else:
                data, columns, types = _csv_bytes(rng)
                expected = max(_expected_lines(data) - 1, 0)
                if form == "csv.gz":
                    packed = gzip.compress(data, mtime=0)
                    if rng.random() < 0.3:
                        packed = packed[: int(rng.integers(0, len(packed)))]
                    path.write_bytes(packed)
                else:
                    path.write_bytes(data)
            try:
                loaded = read_event_table(path, columns=columns, types=types)
            except ValidationError as exc:
                assert "\n" not in str(exc), case
                outcomes["error"] += 1
                continue
            _check_table(loaded, expected)
            outcomes["table"] += 1
    finally:
        logging.disable(logging.NOTSET)
    assert min(outcomes.values()) > TABLE_CASES // 10, outcomes  # both outcomes exercised


def test_importing_hostile_files_writes_all_or_an_accounted_part(tmp_path: Path, wb: Workbench) -> None:
    rng = np.random.default_rng(SEED + 2)
    for case in range(IMPORT_CASES):
        data, _, _ = _csv_bytes(rng)
        while not data.startswith(REES46.encode()):
            data, _, _ = _csv_bytes(rng)
        path = tmp_path / f"log{case}.csv.gz"
        packed = gzip.compress(data, mtime=0)
        path.write_bytes(packed[: int(rng.integers(len(packed) // 2, len(packed) + 1))])
        before = wb.store.count(wb.interactions)
        try:
            report = import_rees46(wb.catalog, wb.events, path, show_progress=False, chunk_lines=3)
        except ValidationError:
            assert wb.store.count(wb.interactions) == before, case
            continue
        assert report.accounted() == report.rows, case
        assert wb.store.count(wb.interactions) == before + report.events_logged, case
