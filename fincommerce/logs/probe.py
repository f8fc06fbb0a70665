"""One SQL text for a log's summary and its decayed trend table, run unchanged on DuckDB and on Spark: the
check that a Spark master computes what the embedded engine computes, and the like-for-like speed comparison.

Only the view that turns a file into (user_id, product_id, interaction_type, timestamp) differs per engine
(how each spells "seconds since 1970"); the aggregations are the same string on both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import pandas as pd
from pyspark.sql import SparkSession

from fincommerce.schema import INTERACTION_WEIGHTS
from fincommerce.tracking.rees46 import EVENT_TYPE_MAP

TYPE_MAP = {**{t: t for t in INTERACTION_WEIGHTS}, **EVENT_TYPE_MAP}  # the file's event names -> ours
MAPPED = "CASE " + " ".join(f"WHEN event_type = '{k}' THEN '{v}'" for k, v in TYPE_MAP.items()) + " END"
WEIGHT = "CASE " + " ".join(f"WHEN interaction_type = '{k}' THEN {w!r}" for k, w in INTERACTION_WEIGHTS.items()) \
    + " END"
SUMMARY_SQL = """
SELECT count(*) AS n_rows,
       sum(CASE WHEN ok THEN 1 ELSE 0 END) AS events,
       count(DISTINCT CASE WHEN ok THEN user_id END) AS users,
       count(DISTINCT CASE WHEN ok THEN product_id END) AS products,
       sum(CASE WHEN ok THEN 0 ELSE 1 END) AS bad_rows,
       min(CASE WHEN ok THEN timestamp END) AS first_ts,
       max(CASE WHEN ok THEN timestamp END) AS last_ts
FROM (SELECT *, user_id IS NOT NULL AND product_id IS NOT NULL AND timestamp IS NOT NULL
                AND interaction_type IS NOT NULL AS ok FROM events) AS checked
"""


def trend_sql(cuts: list[tuple[float, float, float]]) -> str:
    """Per cut (now, window, half-life), product and type: events in (now - window, now] and their weighted
    decayed sum (03's trend table), every cut in one scan of the log."""
    rows = ", ".join(f"({i}, {now!r}, {now - window!r}, {math.log(2) / half_life!r})"
                     for i, (now, window, half_life) in enumerate(cuts))
    return f"""
SELECT c.cut, e.product_id, e.interaction_type, count(*) AS n,
       sum(({WEIGHT.replace("interaction_type", "e.interaction_type")}) * exp(-c.rate * (c.now - e.timestamp))) AS score
FROM events AS e JOIN (VALUES {rows}) AS c(cut, now, lo, rate) ON e.timestamp > c.lo AND e.timestamp <= c.now
WHERE e.product_id IS NOT NULL AND e.interaction_type IS NOT NULL
GROUP BY c.cut, e.product_id, e.interaction_type
"""


class Engine(Protocol):
    name: str

    def register(self, path: Path) -> None:
        """Expose the log at `path` as the view `events`."""

    def query(self, sql: str) -> pd.DataFrame: ...


def _events_view(source: str, epoch: str, rees46: bool) -> str:
    """The view both engines query. A REES46-shaped file keeps its own names (event_time, event_type, numeric
    ids); an event table already has ours."""
    if not rees46:
        return (f"SELECT CAST(user_id AS STRING) AS user_id, CAST(product_id AS STRING) AS product_id, "
                f"interaction_type, CAST(timestamp AS DOUBLE) AS timestamp FROM {source}")
    return (f"SELECT CAST(user_id AS STRING) AS user_id, CAST(product_id AS STRING) AS product_id, "
            f"{MAPPED} AS interaction_type, {epoch} AS timestamp FROM {source}")


def _is_rees46(columns: list[str]) -> bool:
    return "event_type" in columns and "event_time" in columns


@dataclass
class DuckDBEngine:
    name: str = "duckdb"
    threads: int = 2
    memory_limit: str = "2GB"

    def __post_init__(self) -> None:
        self.con = duckdb.connect(config={"threads": self.threads, "memory_limit": self.memory_limit})

    def register(self, path: Path) -> None:
        source = f"read_parquet('{Path(path).as_posix()}')"
        columns = [r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        self.con.execute("CREATE OR REPLACE VIEW events AS "
                         + _events_view(source, "CAST(epoch(event_time) AS DOUBLE)", _is_rees46(columns)))

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()


@dataclass
class SparkEngine:
    session: SparkSession
    name: str = "spark"

    def register(self, path: Path) -> None:
        frame = self.session.read.parquet(str(path))
        frame.createOrReplaceTempView("events_file")
        self.session.sql("CREATE OR REPLACE TEMP VIEW events AS " + _events_view(
            "events_file", "CAST(unix_micros(event_time) AS DOUBLE) / 1e6", _is_rees46(frame.columns)))

    def query(self, sql: str) -> pd.DataFrame:
        return self.session.sql(sql).toPandas()


def summary(engine: Engine) -> dict[str, float]:
    """rows -> events, users, products; bad rows (and the time span), as plain numbers."""
    row = engine.query(SUMMARY_SQL).iloc[0]
    return {k: (float(v) if k.endswith("_ts") else int(v)) for k, v in row.items()}


def trend_table(engine: Engine, cuts: list[tuple[float, float, float]]) -> pd.DataFrame:
    """03's trend tables at each cut (now, window s, half-life s), sorted so two engines' tables compare row by
    row."""
    table = engine.query(trend_sql(cuts))
    table[["cut", "n"]] = table[["cut", "n"]].astype("int64")
    return table.sort_values(["cut", "product_id", "interaction_type"], ignore_index=True)
