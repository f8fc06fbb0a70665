"""What the session protocol reads of a log, whichever path built it: the evaluated sessions, the products,
and the events a replay feeds its indexes in time order, pulled page by page.

Engine-free (numpy and pandas only), so the pandas path and the notebooks that never start an engine do not
import Ibis for it; `logs.sessions` fills it from an engine, `offline.sessions` from a pandas table.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

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


@dataclass
class SessionLog:
    """A log as the session protocol needs it. `products`: product_id, name, brand, category (levels joined by
    " > "), price — row i is product row i, in the order of each product's newest event; `sessions`: the
    evaluated ones sorted by (start, id); `events`: the replay's stream."""

    products: pd.DataFrame
    sessions: list[Session]
    events: EventStream
