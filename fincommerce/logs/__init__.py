"""Logs of any size: engine-neutral scans and aggregations (Ibis over DuckDB by default, or Spark).

`scan_log` maps and validates a log without loading it; `scan_report` counts what it found; the
aggregations (trending at cut points, sessions, trend tables) push their work into the engine and hand
pandas only small results.
"""
