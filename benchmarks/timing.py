"""p50 of repeated calls, and the table rows every benchmark script prints and keeps."""
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


def recording_report(rows: list[dict], width: int = 80) -> Callable[..., None]:
    """The `report(area, metric, value, unit, target, ok)` a script hands its benchmarks: prints the row beside
    its target and verdict, and keeps it in `rows` for the script's JSON."""
    def report(area: str, metric: str, value: float, unit: str, target: str = "", ok: bool | None = None) -> None:
        rows.append({"area": area, "metric": metric, "value": value, "unit": unit, "target": target, "ok": ok})
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{metric:{width}s} {value:12.4g} {unit:7s} {target:12s} {verdict}", flush=True)
    return report
