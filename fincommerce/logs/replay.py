"""What the session protocol reads of a log, whichever path built it: the evaluated sessions, the products,
and the events a replay feeds its indexes in time order, pulled page by page.

Engine-free (numpy, pandas and pyarrow only), so the pandas path and the notebooks that never start an engine
do not import Ibis for it; `logs.sessions` fills it from an engine, `offline.sessions` from a pandas table.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd
import pyarrow as pa

from fincommerce.errors import ValidationError

SESSION_GAP_SECONDS = 30 * 60  # a user's events this far apart start a new session (where the log has no id)
GAINS = {"add_to_cart": 0.6, "purchase": 1.0}  # what a session's conversions are worth, graded as in the simulation
CONTEXT_TYPES = ("view", "click")  # what stands in for the query before the first conversion

# (start, session id, user, viewed product rows most recent first, product row -> gain, each viewed row's last
# view time, the ranking moment: the time of the first conversion, which the features see just before)
Session = tuple[float, str, str, list[int], dict[int, float], list[float], float]
# One page of events in time order: timestamps, product rows, interaction types, users (object arrays of str).
Page = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class EventStream:
    """Events in time order, handed out up to a time. Memory holds the current page plus the events between
    two consecutive session starts, never the whole log."""

    def __init__(self, pages: Iterable[Page]) -> None:
        self._pages: Iterator[Page] = iter(pages)
        self._buffer: Page | None = None
        self._done = False

    def before(self, start: float) -> Page | None:
        """Every event not yet handed out with a time < `start`, as one page (None when there is none)."""
        while not self._done and (self._buffer is None or len(self._buffer[0]) == 0
                                  or self._buffer[0][-1] < start):
            page = next(self._pages, None)
            if page is None:
                self._done = True
            elif self._buffer is None:
                self._buffer = page
            else:
                self._buffer = tuple(np.concatenate([a, b]) for a, b in zip(self._buffer, page, strict=True))
        if self._buffer is None:
            return None
        cut = int(np.searchsorted(self._buffer[0], start, side="left"))
        if cut == 0:
            return None
        head = tuple(a[:cut] for a in self._buffer)
        self._buffer = tuple(a[cut:] for a in self._buffer)
        return head  # type: ignore[return-value]


class SessionTable(Sequence[Session]):
    """Evaluated sessions held column-wise, each `Session` tuple built only when read: on a 30M-row log (435k
    sessions) these arrays take 53 MB where the same sessions as a list of tuples took 340 MB more. A session's
    context and gains are runs of `viewed_rows`/`seen` and `gain_rows`/`gain_vals` delimited by `viewed_ptr`
    and `gains_ptr` (CSR, n + 1 offsets); its id and user are Arrow strings (22 MB there; numpy's fixed-width
    str took 75 MB, and its bytes type drops trailing NULs)."""

    CHUNK = 4096  # sessions built per step when iterating: a few MB of tuples, never the whole table

    def __init__(self, start: np.ndarray, sid: pa.Array, user: pa.Array, moment: np.ndarray,
                 viewed_ptr: np.ndarray, viewed_rows: np.ndarray, seen: np.ndarray,
                 gains_ptr: np.ndarray, gain_rows: np.ndarray, gain_vals: np.ndarray) -> None:
        n = len(start)
        self.start, self.moment = np.asarray(start, np.float64), np.asarray(moment, np.float64)
        self.sid, self.user = sid, user
        self.viewed_ptr, self.gains_ptr = np.asarray(viewed_ptr, np.int64), np.asarray(gains_ptr, np.int64)
        self.viewed_rows, self.seen = np.asarray(viewed_rows, np.int32), np.asarray(seen, np.float64)
        self.gain_rows, self.gain_vals = np.asarray(gain_rows, np.int32), np.asarray(gain_vals, np.float64)
        for name, col in (("sid", sid), ("user", user), ("moment", self.moment)):
            if len(col) != n:
                raise ValidationError(f"SessionTable.{name}", f"{n} values (one per session)", len(col))
        for name, ptr, rows, vals in (("viewed_ptr", self.viewed_ptr, self.viewed_rows, self.seen),
                                      ("gains_ptr", self.gains_ptr, self.gain_rows, self.gain_vals)):
            if len(rows) != len(vals) or len(ptr) != n + 1 or ptr[0] != 0 or ptr[-1] != len(rows) \
                    or np.any(np.diff(ptr) < 0):
                raise ValidationError(f"SessionTable.{name}", f"{n + 1} non-decreasing offsets from 0 to "
                                      f"{len(rows)} (rows and values of equal length)", ptr[:3].tolist())

    def __len__(self) -> int:
        return len(self.start)

    @overload
    def __getitem__(self, i: int) -> Session: ...

    @overload
    def __getitem__(self, i: slice) -> list[Session]: ...

    def __getitem__(self, i: int | slice) -> Session | list[Session]:
        if isinstance(i, slice):
            lo, hi, step = i.indices(len(self))
            return self._build(lo, hi) if step == 1 else [self[k] for k in range(lo, hi, step)]
        k = int(i) + len(self) if i < 0 else int(i)
        if not 0 <= k < len(self):
            raise IndexError(f"session {i} of {len(self)}")
        return self._build(k, k + 1)[0]

    def __iter__(self) -> Iterator[Session]:
        for lo in range(0, len(self), self.CHUNK):
            yield from self._build(lo, min(lo + self.CHUNK, len(self)))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same sessions (a list from the pandas path, or another table)."""
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable arrays, compared by value

    def _build(self, lo: int, hi: int) -> list[Session]:
        """Sessions lo..hi-1 as tuples of Python objects (floats, strs, ints), converted a column at a time."""
        vp, gp = self.viewed_ptr[lo:hi + 1], self.gains_ptr[lo:hi + 1]
        rows, seen = self.viewed_rows[vp[0]:vp[-1]].tolist(), self.seen[vp[0]:vp[-1]].tolist()
        g_rows, g_vals = self.gain_rows[gp[0]:gp[-1]].tolist(), self.gain_vals[gp[0]:gp[-1]].tolist()
        v, g = (vp - vp[0]).tolist(), (gp - gp[0]).tolist()
        heads = zip(self.start[lo:hi].tolist(), self.sid[lo:hi].to_pylist(), self.user[lo:hi].to_pylist(),
                    self.moment[lo:hi].tolist(), strict=True)
        return [(start, sid, user, rows[v[k]:v[k + 1]], dict(zip(g_rows[g[k]:g[k + 1]], g_vals[g[k]:g[k + 1]])),
                 seen[v[k]:v[k + 1]], moment) for k, (start, sid, user, moment) in enumerate(heads)]


@dataclass
class SessionLog:
    """A log as the session protocol needs it. `products`: product_id, name, brand, category (levels joined by
    " > "), price — row i is product row i, in the order of each product's newest event; `sessions`: the
    evaluated ones sorted by (start, id), a list or a `SessionTable`; `events`: the replay's stream."""

    products: pd.DataFrame
    sessions: Sequence[Session]
    events: EventStream
