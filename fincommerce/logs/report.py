"""What a scan found, from aggregate queries only: rows per file, bad rows per file and reason (the first
`keep` listed, the rest counted), skipped types, repeated events, and the usable events' volumes."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from fincommerce.errors import ValidationError
from fincommerce.logs.reading import structural_rejects
from fincommerce.logs.scan import LogScan
from fincommerce.tracking.bad_rows import MAX_BAD_ROWS_KEPT

log = logging.getLogger(__name__)


@dataclass
class ScanReport:
    """Counts of one scanned log; `bad_listed` holds at most `keep` rows (file, row, reason)."""

    path: str
    n_rows: int
    n_events: int
    n_users: int
    n_products: int
    rows_per_file: dict[str, int]
    bad_counts: dict[tuple[str, str], int]  # (file, kind) → rows
    bad_listed: pd.DataFrame
    skipped_types: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    t_min: float = float("nan")
    t_max: float = float("nan")
    t_sum: int = 0  # Σ whole seconds of the event times (exact in any order: part of the fingerprint)

    @property
    def n_bad(self) -> int:
        return sum(self.bad_counts.values())

    @property
    def n_unlisted(self) -> int:
        return self.n_bad - len(self.bad_listed)

    @property
    def fingerprint(self) -> str:
        """12 hex digits identifying the scanned events from the engine's aggregates (a whole-log sort, as
        `events_fingerprint` does, is what the engine path avoids; so the two digests differ by design)."""
        key = f"{self.n_events}|{self.n_users}|{self.n_products}|{self.t_min:.3f}|{self.t_max:.3f}|{self.t_sum}"
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    def summary(self) -> str:
        """One line like `EventTable.summary`: rows → events, users, products; skipped; repeated; bad rows."""
        first = ""
        if len(self.bad_listed):
            r = self.bad_listed.iloc[0]
            first = f"; first: {Path(str(r.file)).name} row {int(r.row)}: {r.reason}"
        skipped = ", ".join(f"{n:,} {t}" for t, n in self.skipped_types.items()) or "none"
        more = f" ({self.n_unlisted:,} not listed)" if self.n_unlisted > 0 else ""
        return (f"{Path(self.path).name}: {self.n_rows:,} rows → {self.n_events:,} events, {self.n_users:,} users, "
                f"{self.n_products:,} products; skipped types: {skipped}; repeated events: {self.duplicates:,}; "
                f"bad rows: {self.n_bad:,}{more}{first}")


def _kind(reason: str) -> str:
    return reason.split(":", 1)[0]


def scan_report(scan: LogScan, keep: int = MAX_BAD_ROWS_KEPT) -> ScanReport:
    """Run the scan's aggregate queries (a few passes over the files, nothing held per row)."""
    rows = scan.rows
    kind = ibis.ifelse(rows.ok, "", ibis.ifelse(rows.skipped, "skip:" + rows.raw_type, rows.reason.split(":")[0]))
    tally = rows.group_by(["file", kind.name("kind")]).aggregate(n=_.count()).to_pandas()  # one pass
    per_file = tally.groupby("file").n.sum()
    counts = tally[~tally.kind.str.startswith("skip:") & (tally.kind != "")]
    skipped = tally[tally.kind.str.startswith("skip:")].groupby("kind").n.sum()
    listed = pd.DataFrame(columns=["file", "row", "reason"])
    if len(counts) and keep > 0:  # a pass over the files only when the tally saw bad rows to list
        bad = rows.filter(rows.reason.notnull())
        listed = bad.select("file", "row", "reason").order_by(["file", "row"]).limit(keep).to_pandas()
    struct_counts, struct_listed = structural_rejects(scan.con, scan.view, keep)
    totals = _event_totals(scan)
    n_good = int(tally[tally.kind == ""].n.sum())
    bad_counts = {(str(f), str(k)): int(n) for f, k, n in counts.itertuples(index=False)}
    bad_counts.update(struct_counts)
    listed = pd.concat([x for x in (struct_listed, listed) if len(x)] or [listed], ignore_index=True)
    listed = listed.sort_values(["file", "row"], kind="stable").head(keep).reset_index(drop=True)
    n_rows = int(per_file.sum()) + sum(struct_counts.values())
    report = ScanReport(scan.path, n_rows, int(totals.n), int(totals.users), int(totals.products),
                        {str(f): int(n) for f, n in per_file.items()}, bad_counts, listed,
                        {str(t)[5:]: int(n) for t, n in skipped.items()}, n_good - int(totals.n),
                        float(totals.t_min) if totals.n else float("nan"),
                        float(totals.t_max) if totals.n else float("nan"), int(totals.t_sum or 0))
    if not report.n_events:
        top = sorted(bad_counts.items(), key=lambda kv: -kv[1])[:3]
        why = ", ".join(f"{n:,} bad {k}" for (_, k), n in top) or "no data rows"
        raise ValidationError(scan.source.label, "an event log with at least one usable row",
                              f"{n_rows:,} rows, none usable: {why}")
    log.info("%s", report.summary())
    return report


def _whole_seconds(t: ir.Table) -> ir.IntegerValue:
    return t.timestamp.floor().cast("int64")


def _event_totals(scan: LogScan) -> pd.Series:
    """n, users, products, t_min, t_max, t_sum of the merged events: the usable rows' totals, less the repeats
    among the few rows whose narrow key repeats (cheaper than aggregating `scan.events`, which unions two scans)."""
    good = scan.good
    user, product = scan.user_product
    totals = good.aggregate(n=good.count(), users=good[user].nunique(), products=good[product].nunique(),
                            t_min=good.timestamp.min(), t_max=good.timestamp.max(),
                            t_sum=_whole_seconds(good).sum()).to_pandas().iloc[0]
    if not scan.rees46 or not totals.n:
        return totals
    merged = good.semi_join(scan.repeat_candidates, scan.narrow_key).group_by(scan.merge_key).aggregate(n=_.count())
    fix = merged.aggregate(repeats=(merged.n - 1).sum().fill_null(0),
                           seconds=((merged.n - 1) * _whole_seconds(merged)).sum().fill_null(0)).to_pandas().iloc[0]
    totals["n"] -= int(fix.repeats)
    totals["t_sum"] -= int(fix.seconds)
    return totals
