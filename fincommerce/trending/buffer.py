"""A growable numpy column: the trending index keeps its retained events in three of these."""
from __future__ import annotations

import numpy as np


class Buffer:
    """A growable column of one dtype: amortised O(1) appends, O(1) head drops."""

    def __init__(self, dtype: type) -> None:
        self.data = np.empty(1024, dtype=dtype)
        self.start = 0
        self.end = 0

    def extend(self, values: np.ndarray) -> None:
        n = len(values)
        if self.end + n > len(self.data):
            live = self.data[self.start:self.end]
            new = np.empty(max(2 * (len(live) + n), 1024), dtype=self.data.dtype)
            new[: len(live)] = live
            self.data, self.start, self.end = new, 0, len(live)
        self.data[self.end:self.end + n] = values
        self.end += n

    def view(self) -> np.ndarray:
        return self.data[self.start:self.end]

    def drop_head(self, n: int) -> None:
        self.start += n

    def nbytes(self) -> int:
        return self.data.nbytes
