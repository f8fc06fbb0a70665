"""The evaluated sessions held column-wise (`SessionTable`, issue 25): read back as the same tuples a list holds,
and, from the engine, in Python's order (start, then id as str compares) with the pandas path's gains order."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fincommerce.errors import ValidationError
from fincommerce.logs.replay import Session, SessionTable
from fincommerce.logs.scan import scan_log
from fincommerce.logs.sessions import session_log
from fincommerce.offline.sessions import session_log as pandas_session_log
from fincommerce.tracking.event_table import read_event_table

T0 = 1_700_000_000.0
# Ids that a case-insensitive or locale collation would order differently from Python's code-point order
IDS = ("a", "B", "Z1", "é", "ü-2", "😀", "Zz", "b")


def _table(sessions: list[Session]) -> SessionTable:
    viewed = [s[3] for s in sessions]
    gains = [s[4] for s in sessions]
    return SessionTable(
        np.array([s[0] for s in sessions]), pa.array([s[1] for s in sessions], pa.string()),
        pa.array([s[2] for s in sessions], pa.string()), np.array([s[6] for s in sessions]),
        np.r_[0, np.cumsum([len(v) for v in viewed])], np.array([r for v in viewed for r in v], np.int32),
        np.array([t for s in sessions for t in s[5]]), np.r_[0, np.cumsum([len(g) for g in gains])],
        np.array([r for g in gains for r in g], np.int32), np.array([x for g in gains for x in g.values()]))


def test_a_session_table_reads_back_the_tuples_it_was_built_from(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    want: list[Session] = []
    for i in range(23):
        rows = [int(r) for r in rng.choice(40, int(rng.integers(1, 5)), replace=False)]
        gains = {int(r): float(g) for r, g in zip(rng.choice(40, int(rng.integers(1, 3)), replace=False),
                                                  rng.choice([0.6, 1.0], 2), strict=False)}
        want.append((T0 + i // 3, f"s{i}·é", str(i % 4), rows, gains, [T0 + 0.1 * k for k in range(len(rows))],
                     T0 + i + 0.5))
    monkeypatch.setattr(SessionTable, "CHUNK", 5)  # iteration crosses chunk edges
    got = _table(want)
    assert len(got) == 23 and list(got) == want and got == want and want == got
    assert [type(x) for x in got[0]] == [float, str, str, list, dict, list, float]
    assert type(got[0][3][0]) is int and got[-1] == want[-1] and got[4:9] == want[4:9] and got[::7] == want[::7]
    assert [list(s[4]) for s in got] == [list(s[4]) for s in want]  # the gains keep their order
    with pytest.raises(IndexError):
        got[23]
    assert len(_table([])) == 0 and list(_table([])) == []


def test_a_session_table_with_inconsistent_columns_is_one_clear_error() -> None:
    s = _table([(T0, "s", "u", [1, 2], {3: 1.0}, [T0, T0], T0 + 1)])
    with pytest.raises(ValidationError, match="SessionTable.viewed_ptr"):
        SessionTable(s.start, s.sid, s.user, s.moment, np.array([0, 3]), s.viewed_rows, s.seen, s.gains_ptr,
                     s.gain_rows, s.gain_vals)
    with pytest.raises(ValidationError, match="SessionTable.user"):
        SessionTable(s.start, s.sid, pa.array(["u", "v"]), s.moment, s.viewed_ptr, s.viewed_rows, s.seen,
                     s.gains_ptr, s.gain_rows, s.gain_vals)


def test_engine_sessions_come_in_pythons_order_with_the_pandas_gains_order(tmp_path: Path) -> None:
    """Sessions starting at the same second are ordered by id as Python orders str (UTF-8 bytes in the engine);
    a session's gains in the order of their first conversion (a purchase of one product before a cart of
    another), as the pandas path inserts them."""
    rows = []
    for n, sid in enumerate(IDS):
        user, t = f"u{n}", T0 + 60 * (n % 2)  # two starting seconds, four ids tied on each
        rows += [(user, "p1", "view", t, sid), (user, f"p{2 + n % 3}", "click", t + 5, sid),
                 (user, "p1", "view", t + 9, sid), (user, "p3", "purchase", t + 20, sid),
                 (user, "p1", "add_to_cart", t + 30, sid), (user, "p3", "add_to_cart", t + 40, sid)]
    rows += [("u9", "p4", "purchase", T0 + 5, "no-context"), ("u9", "p4", "view", T0 + 6, "no-context")]
    path = tmp_path / "log.csv"
    pd.DataFrame(rows, columns=["user_id", "product_id", "interaction_type", "timestamp", "session_id"]) \
        .to_csv(path, index=False)
    got, want = session_log(scan_log(path)), pandas_session_log(read_event_table(path).events)
    assert isinstance(got.sessions, SessionTable) and got.sessions == want.sessions and len(want.sessions) == 8
    assert [s[1] for s in got.sessions] == sorted(IDS[0::2]) + sorted(IDS[1::2])
    assert [list(s[4].items()) for s in got.sessions] == [list(s[4].items()) for s in want.sessions]
    assert [list(s[4].values()) for s in got.sessions] == [[1.0, 0.6]] * 8  # exactly the pandas path's floats
