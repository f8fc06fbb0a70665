"""Synthetic REES46 logs on disk: Parquet part files, and the 10M / 30M / 100M logs issue 25's bench reads.

    python -m fincommerce.offline.synthetic_files /tmp/logs --rows 10000000 30000000 100000000 --seed 0

Each log is a folder `rees46_<rows>/` of `part-NNNNN.parquet` files (REES46's own columns) plus a
`_COMPLETE` marker written last, so a crash leaves no folder that looks finished and a finished one is
not written again.
"""
from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import pyarrow.parquet as pq
from tqdm import tqdm

from fincommerce.offline.synthetic_log import SCHEMA, SyntheticLog

log = logging.getLogger(__name__)
LOG_SIZES = (10_000_000, 30_000_000, 100_000_000)
MARKER = "_COMPLETE"


def write_parquet(log_: SyntheticLog, folder: str | Path, rows_per_file: int = 10_000_000, *,
                  show_progress: bool = False) -> list[Path]:
    """The log as part files `part-00000.parquet`, ... of at most `rows_per_file` rows each (one writer open
    at a time, an hour's events in memory)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    writer: pq.ParquetWriter | None = None
    in_file = 0
    with tqdm(total=log_.events, unit="ev", unit_scale=True, disable=not show_progress, desc=folder.name) as bar:
        for table in log_.tables():
            bar.update(len(table))
            while len(table):
                if writer is None or in_file >= rows_per_file:
                    if writer is not None:
                        writer.close()
                    paths.append(folder / f"part-{len(paths):05d}.parquet")
                    writer, in_file = pq.ParquetWriter(paths[-1], SCHEMA, compression="zstd"), 0
                take = table.slice(0, rows_per_file - in_file)
                writer.write_table(take, row_group_size=1_000_000)
                in_file += len(take)
                table = table.slice(len(take))
    if writer is not None:
        writer.close()
    log.info("Wrote %d events in %d file(s) to %s", log_.events, len(paths), folder)
    return paths


def write_logs(folder: str | Path, sizes: tuple[int, ...] = LOG_SIZES, seed: int = 0, days: int = 30, *,
               rows_per_file: int = 10_000_000, show_progress: bool = True) -> dict[int, Path]:
    """One seeded month per size under `folder` (`rees46_<rows>/`); sizes already complete are kept as they are."""
    out: dict[int, Path] = {}
    for rows in sizes:
        target = Path(folder) / f"rees46_{rows}"
        if not (target / MARKER).is_file():
            shutil.rmtree(target, ignore_errors=True)  # a run that died half-way
            write_parquet(SyntheticLog(rows, days, seed=seed), target, rows_per_file, show_progress=show_progress)
            (target / MARKER).write_text(f"rows={rows} days={days} seed={seed}\n")
        out[rows] = target
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write seeded REES46-shaped Parquet logs.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rows", type=int, nargs="+", default=list(LOG_SIZES))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows-per-file", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    for rows, path in write_logs(args.folder, tuple(args.rows), args.seed, args.days,
                                 rows_per_file=args.rows_per_file).items():
        print(f"{rows:>12,} rows  {path}")


if __name__ == "__main__":
    main()
