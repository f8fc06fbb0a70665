"""Peak memory of streaming imports: the REES46 October sample tiled to N rows (shifted days, remapped users).

    python benchmarks/import_memory.py 200000 1000000   # a table, and benchmarks/results/import_memory.json

Each size runs in a fresh process (parse-only, then a full import into a temporary store) and reports
its peak RSS from the kernel (ru_maxrss), so the numbers include the model and the engine.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "datasets" / "rees46" / "2019-Oct_head_sample.csv"
RESULTS = ROOT / "benchmarks" / "results"


def tiled(rows: int, folder: Path) -> Path:
    """The sample repeated with each copy a day later and its users renamed: new events, same products."""
    header, *lines = [x for x in SAMPLE.read_text(encoding="utf-8").split("\n") if x]
    path = folder / f"tiled_{rows}.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(header + "\n")
        written, copy = 0, 0
        while written < rows:
            for line in lines:
                if written == rows:
                    break
                f = line.split(",")
                if len(f) != 9:
                    continue
                f[0] = f"2019-10-{1 + copy % 28:02d}{f[0][10:]}"
                f[7] = f"{f[7]}{copy:03d}"
                out.write(",".join(f) + "\n")
                written += 1
            copy += 1
    return path


def measure(mode: str, path: Path) -> dict:
    started = time.perf_counter()
    if mode == "parse":
        from fincommerce.tracking.rees46 import iter_rees46
        events = sum(len(p.events) for p in iter_rees46(path))
    else:
        from fincommerce import Settings, Workbench
        with tempfile.TemporaryDirectory() as store, Workbench(Settings(store_path=Path(store) / "s")) as wb:
            events = wb.import_events(path, show_progress=False).events_logged
    return {"mode": mode, "events": events, "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main(sizes: list[int]) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = tiled(size, Path(tmp))
            for mode in ("parse", "import"):
                out = subprocess.run([sys.executable, __file__, "--one", mode, str(path)], capture_output=True,
                                     text=True, check=True)
                rows.append({"rows": size, **json.loads(out.stdout.strip().splitlines()[-1])})
                print(f"{size:>9,} rows  {rows[-1]['mode']:<6}  {rows[-1]['events']:>9,} events  "
                      f"{rows[-1]['seconds']:>7.1f} s  peak RSS {rows[-1]['peak_rss_mb']:>6,} MB", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "import_memory.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2], Path(sys.argv[3]))))
    else:
        main([int(x) for x in sys.argv[1:]] or [200_000, 1_000_000])
