"""p50 of repeated calls: the one timing helper every benchmark script uses."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def p50(fn: Callable[[], Any], repeat: int = 30, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
