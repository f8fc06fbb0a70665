"""Rows a log reader could not use: each with its line and reason, all counted by kind, the first few kept."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

MAX_BAD_ROWS_KEPT = 1000  # bad rows listed with their line; all of them are counted by kind


@dataclass(frozen=True)
class BadRow:
    """A skipped row, with enough context for a human to find and fix it."""

    line: int  # 1-based physical line number in the file
    reason: str

    @property
    def kind(self) -> str:
        """What went wrong, without the offending value: "user_id", "csv error", "expected N fields"."""
        head = self.reason.split(":", 1)[0]
        return re.sub(r"\d[\d,]*", "N", head.split(", got")[0])


@dataclass
class BadRows:
    """Every bad row counted by kind, only the first `keep` (by line) listed: junk input costs bounded memory."""

    listed: list[BadRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    keep: int = MAX_BAD_ROWS_KEPT

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, rows: list[BadRow]) -> None:
        """One chunk's bad rows (any order); chunks come in line order."""
        for kind, n in Counter(b.kind for b in rows).items():
            self.counts[kind] = self.counts.get(kind, 0) + n
        room = self.keep - len(self.listed)
        if room > 0:
            self.listed.extend(sorted(rows, key=lambda b: b.line)[:room])

    def describe(self, top: int = 3) -> str:
        """"12 bad rows (10 user_id, 2 csv error)"."""
        kinds = sorted(self.counts.items(), key=lambda kv: -kv[1])
        detail = ", ".join(f"{n:,} {k}" for k, n in kinds[:top]) + (", ..." if len(kinds) > top else "")
        return f"{self.total:,} bad rows" + (f" ({detail})" if kinds else "")
