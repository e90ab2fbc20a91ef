"""Additive totals of request records: counts, exact money and an overhead histogram.

Owns the arithmetic shared by `Stats` (running totals in memory) and the
store's daily roll-ups (totals of records pruned from the database), so a
total is the same whether its records are still stored or were rolled up.
Pure: no I/O, no clock; every `add` is O(1).

Overhead percentiles come from a histogram with logarithmic buckets 1 % wide
(from 0.001 ms up): a reported p50/p99 is within 0.5 % of the exact
nearest-rank percentile. Overheads below 0.001 ms are reported as 0. Bucket
`i` holds [0.001 · 1.01^i, 0.001 · 1.01^(i+1)) ms and bucket -1 everything
below; the store keeps these indexes, so they must not change. The store also
computes them in SQL (`OVERHEAD_BUCKET_SQL`) when it sums records at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_MIN_MS = 0.001
_RATIO = 1.01
_LOG_RATIO = math.log(_RATIO)
_ZERO_BUCKET = -1

# `OverheadHistogram.add`'s bucket index of the REAL column `overhead_ms`, in
# SQLite: its ln() is C's log(), as `math.log` is, and the constants are bound
# (`OVERHEAD_BUCKET_PARAMS`) rather than written out, so SQLite divides by the
# very same doubles and the index comes out bit for bit the same. NaN is never
# stored (SQLite keeps it as NULL), and NULL gives NULL.
OVERHEAD_BUCKET_SQL = (
    "CASE WHEN overhead_ms < :bucket_min_ms THEN -1"
    " ELSE CAST(ln(overhead_ms / :bucket_min_ms) / :bucket_log_ratio AS INTEGER) END"
)
OVERHEAD_BUCKET_PARAMS = {"bucket_min_ms": _MIN_MS, "bucket_log_ratio": _LOG_RATIO}


@dataclass(frozen=True, slots=True)
class TotalsRow:
    """The few fields totals need from one record (money exact, as stored)."""

    started_at: str
    status: int
    cost_usd: Decimal | None
    savings_usd: Decimal | None
    overhead_ms: float | None


@dataclass(frozen=True, slots=True)
class TotalsGroup:
    """The totals of stored records that started in one minute, one hour or at one instant.

    What the store sums in SQL at start-up instead of handing over each
    record. The records started in [`started_at`, `started_at` + `width_s`):
    `started_at` is `YYYY-MM-DDTHH:MM` (width 60) or `YYYY-MM-DDTHH` (3600),
    UTC, for records stamped in the gateway's own form; width 0 means they
    all have this very `started_at`, in any other form (read as `Stats` reads
    a record's, unreadable ones included). Money is the exact `Decimal` sum of
    the stored amounts. A minute or an hour may come in several groups.
    """

    started_at: str
    width_s: int
    requests: int
    errors: int
    cost_usd: Decimal
    savings_usd: Decimal
    overhead_sum_ms: float
    overhead_count: int
    overhead_max_ms: float | None  # None when overhead_count is 0
    overhead: Mapping[int, int]  # histogram bucket index → count, as `OverheadHistogram`


class OverheadHistogram:
    """Counts of overhead values in log buckets; percentiles within 0.5 % relative error."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self.count = 0

    def add(self, ms: float) -> None:
        if ms < _MIN_MS or math.isnan(ms):
            index = _ZERO_BUCKET
        else:
            index = int(math.log(ms / _MIN_MS) / _LOG_RATIO)
        self._counts[index] = self._counts.get(index, 0) + 1
        self.count += 1

    def merge(self, counts: Mapping[int, int]) -> None:
        """Add the bucket counts of another histogram (`counts()` of it)."""
        mine, get = self._counts, self._counts.get  # runs for every group at start-up
        for index, n in counts.items():
            mine[index] = get(index, 0) + n
        self.count += sum(counts.values())

    def counts(self) -> dict[int, int]:
        """Bucket index → count, a copy (what the store keeps in a roll-up)."""
        return dict(self._counts)

    def percentile(self, q: float) -> float | None:
        """The nearest-rank `q`-percentile (0 < q ≤ 1), or None without data."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self._counts):
            seen += self._counts[index]
            if seen >= rank:
                return _bucket_value(index)
        return _bucket_value(max(self._counts))  # unreachable: seen ends at count


def _bucket_value(index: int) -> float:
    # geometric middle of the bucket: at most sqrt(1.01) - 1 ≈ 0.5 % off
    return 0.0 if index == _ZERO_BUCKET else _MIN_MS * _RATIO ** (index + 0.5)


@dataclass(slots=True)
class Sums:
    """Counts and exact money of some requests; subclasses add an overhead summary."""

    requests: int = 0
    errors: int = 0
    cost_usd: Decimal = Decimal(0)
    savings_usd: Decimal = Decimal(0)

    def add(self, row: TotalsRow) -> None:
        self.requests += 1
        self.errors += row.status >= 400
        if row.cost_usd is not None:
            self.cost_usd += row.cost_usd
        if row.savings_usd is not None:
            self.savings_usd += row.savings_usd
        if row.overhead_ms is not None:
            self._add_overhead(row.overhead_ms)

    def add_group(self, group: TotalsGroup) -> None:
        """Count a group of records as if each had been `add`ed."""
        self.requests += group.requests
        self.errors += group.errors
        self.cost_usd += group.cost_usd
        self.savings_usd += group.savings_usd
        if group.overhead_count:
            self._add_overheads(group)

    def _add_overhead(self, ms: float) -> None:
        raise NotImplementedError

    def _add_overheads(self, group: TotalsGroup) -> None:
        raise NotImplementedError


@dataclass(slots=True)
class Tally(Sums):
    """Sums plus the overhead histogram: what `Totals` is made of; tallies add up."""

    overhead: OverheadHistogram = field(default_factory=OverheadHistogram)

    def _add_overhead(self, ms: float) -> None:
        self.overhead.add(ms)

    def _add_overheads(self, group: TotalsGroup) -> None:
        self.overhead.merge(group.overhead)

    def merge(self, other: Tally) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.cost_usd += other.cost_usd
        self.savings_usd += other.savings_usd
        self.overhead.merge(other.overhead.counts())

    def snapshot(self) -> Totals:
        return Totals(
            self.requests,
            self.errors,
            self.cost_usd,
            self.savings_usd,
            self.overhead.percentile(0.50),
            self.overhead.percentile(0.99),
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """Totals over a span of requests; money exact, percentiles per the module docstring."""

    requests: int
    errors: int  # status >= 400
    cost_usd: Decimal
    savings_usd: Decimal
    overhead_ms_p50: float | None
    overhead_ms_p99: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "cost_usd": _usd(self.cost_usd),
            "savings_usd": _usd(self.savings_usd),
            "overhead_ms_p50": _ms(self.overhead_ms_p50),
            "overhead_ms_p99": _ms(self.overhead_ms_p99),
        }


@dataclass(frozen=True, slots=True)
class DayRollup:
    """The totals of one UTC day's records that were pruned from the store.

    `day` is the ISO date (`YYYY-MM-DD`), or the record's own `started_at`
    when that could not be read as a time (such records count in all-time
    totals only, as `Stats` does with them).
    """

    day: str
    tally: Tally


def _usd(value: Decimal) -> float:
    return float(round(value, 12))


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
