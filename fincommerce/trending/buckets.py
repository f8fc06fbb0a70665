"""One time bucket of the trending index: forward-decay sums against the bucket's own landmark (its start)."""
from __future__ import annotations

import numpy as np


class Bucket:
    """One time bucket's forward-decay sums (type × product, against the bucket's start) and event counts;
    a product whose last event in the bucket left is reset to exact zeros."""

    def __init__(self, n_types: int, capacity: int) -> None:
        self.acc = np.zeros((n_types, capacity))
        self.count = np.zeros(capacity, dtype=np.int64)

    def grow(self, more: int) -> None:
        self.acc = np.pad(self.acc, ((0, 0), (0, more)))
        self.count = np.pad(self.count, (0, more))

    def add(self, k: np.ndarray, p: np.ndarray, contributions: np.ndarray, sign: int) -> None:
        np.add.at(self.acc, (k, p), contributions)
        np.add.at(self.count, p, sign)
        if sign < 0:
            gone = p[self.count[p] == 0]
            self.acc[:, gone] = 0.0

    def empty(self) -> bool:
        return not self.count.any()
