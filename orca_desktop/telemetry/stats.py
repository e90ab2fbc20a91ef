"""Running totals over request records: today and all time, plus chart buckets.

Owns the numbers behind `/orca/v1/stats`, the window's totals and its charts.
Every `add` is O(1) and memory is bounded however many records arrive, so it
can run on the event loop inside an `EventHub` callback. It never does I/O
itself: `load` consumes what the caller read from the store (in an executor,
before the gateway starts serving): the records already summed per minute or
hour by SQLite (`TotalsGroup`), which adds up to the same totals as adding
each record. Money is summed as `Decimal`, never as floats. Not thread-safe:
use it from the event loop thread only.

"Today" is the UTC date of a record's `started_at` compared with the UTC date
of `now`, so it rolls over at 00:00 UTC whatever the local time zone.

Overhead percentiles are within 0.5 % of the exact nearest-rank percentile
(see `telemetry.totals`).

All-time totals include the store's daily roll-ups: the totals of records
pruned by its retention (`[telemetry] retention_days`), so they survive
pruning exactly, overhead percentiles included. Roll-ups have no time of day,
so the minute and hour chart buckets cover only records still stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from orca_desktop.events import Event, RequestFinished
from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.store import SqliteStore
from orca_desktop.telemetry.totals import DayRollup, Sums, Tally, Totals, TotalsGroup, TotalsRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One chart bucket: what the requests that started in [start, start + width) added up to."""

    start: datetime  # UTC
    requests: int
    errors: int
    cost_usd: Decimal
    savings_usd: Decimal
    overhead_ms_mean: float | None
    overhead_ms_max: float | None


@dataclass(slots=True)
class _Bucket(Sums):
    overhead_sum_ms: float = 0.0
    overhead_count: int = 0
    overhead_max_ms: float | None = None

    def _add_overhead(self, ms: float) -> None:
        self.overhead_sum_ms += ms
        self.overhead_count += 1
        self.overhead_max_ms = max(self.overhead_max_ms or 0.0, ms)

    def _add_overheads(self, group: TotalsGroup) -> None:
        self.overhead_sum_ms += group.overhead_sum_ms
        self.overhead_count += group.overhead_count
        if group.overhead_max_ms is not None:
            self.overhead_max_ms = max(self.overhead_max_ms or 0.0, group.overhead_max_ms)

    def point(self, start: datetime) -> SeriesPoint:
        mean = self.overhead_sum_ms / self.overhead_count if self.overhead_count else None
        return SeriesPoint(
            start,
            self.requests,
            self.errors,
            self.cost_usd,
            self.savings_usd,
            mean,
            self.overhead_max_ms,
        )


class _Series:
    """Fixed-width time buckets keeping only the newest `capacity` of them."""

    def __init__(self, width_s: int, capacity: int) -> None:
        self.width_s = width_s
        self.capacity = capacity
        self._buckets: dict[int, _Bucket] = {}
        self._newest = 0

    def bucket(self, epoch_s: int) -> _Bucket | None:
        """The bucket holding `epoch_s`, made if need be; None if older than anything we keep."""
        key = epoch_s // self.width_s
        if key <= self._newest - self.capacity:
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
            self._newest = max(self._newest, key)
            if len(self._buckets) > self.capacity + 64:  # prune in amortised O(1)
                oldest_kept = self._newest - self.capacity + 1
                for old in [k for k in self._buckets if k < oldest_kept]:
                    del self._buckets[old]
        return bucket

    def points(self, now: datetime, count: int) -> list[SeriesPoint]:
        last = int(now.timestamp()) // self.width_s
        count = min(count, self.capacity)
        return [
            self._buckets.get(key, _Bucket()).point(datetime.fromtimestamp(key * self.width_s, UTC))
            for key in range(last - count + 1, last + 1)
        ]


class Stats:
    """Today's and all-time totals, overhead percentiles and chart buckets.

    Days are kept only for the newest two UTC dates seen (today and the day
    before it); chart buckets for the last 24 h by minute and 30 days by hour.
    """

    def __init__(self, *, minutes_kept: int = 24 * 60, hours_kept: int = 30 * 24) -> None:
        self._all = Tally()
        self._days: dict[date, Tally] = {}
        self._series = {"minute": _Series(60, minutes_kept), "hour": _Series(3600, hours_kept)}
        self.unauthenticated = 0
        """Requests refused for a missing or bad token since start-up (never stored)."""
        self._second: tuple[str, tuple[int, date]] = ("", (0, date.min))
        """The last `started_at` second parsed: (its first 19 characters, (epoch, UTC date)).
        Records arrive in time order, so most share it and skip the parse."""

    @classmethod
    def from_store(cls, store: SqliteStore) -> Stats:
        """Totals of everything already in `store`. Blocking: run before serving, off the loop."""
        stats = cls()
        stats.load(store.iter_totals(minutes=stats._series["minute"].capacity))
        return stats

    def load(self, rows: Iterable[TotalsRow | TotalsGroup | DayRollup]) -> None:
        """Count stored records, their sums and roll-ups (as `SqliteStore.iter_totals` gives them).

        Groups finer than a series' buckets (a minute group for the hour
        series) count in it; coarser ones (an hour for the minute series) are
        left out of it, so the minute series needs minute groups for every
        minute it keeps.
        """
        for row in rows:
            if isinstance(row, DayRollup):
                self._add_rollup(row)
            elif isinstance(row, TotalsGroup):
                self._add_group(row)
            else:
                self._add_row(row)

    def add(self, record: RequestRecord) -> None:
        """Count one finished request. O(1)."""
        self._add_row(
            TotalsRow(
                record.started_at,
                record.status,
                record.cost_usd,
                record.savings_usd,
                record.overhead_ms,
            )
        )

    def on_event(self, event: Event) -> None:
        """`EventHub` subscriber: counts every `RequestFinished`."""
        if isinstance(event, RequestFinished):
            self.add(event.record)

    def count_unauthenticated(self) -> None:
        """Count a request refused for its token; such requests get no record (PRODUCT.md)."""
        self.unauthenticated += 1

    def today(self, now: datetime) -> Totals:
        """Totals of the requests started on the UTC date of `now`."""
        return self._days.get(_utc(now).date(), Tally()).snapshot()

    def all_time(self) -> Totals:
        return self._all.snapshot()

    def to_json(self, now: datetime) -> dict[str, Any]:
        """The `/orca/v1/stats` body: `{"today": {...}, "all_time": {...}}`, plus
        `unauthenticated`: requests refused for their token since start-up."""
        return {
            "today": self.today(now).to_json(),
            "all_time": self.all_time().to_json(),
            "unauthenticated": self.unauthenticated,
        }

    def series(
        self, resolution: Literal["minute", "hour"], *, now: datetime, points: int = 60
    ) -> list[SeriesPoint]:
        """The last `points` buckets up to the one holding `now`, oldest first, gaps as zeros."""
        return self._series[resolution].points(_utc(now), points)

    def _add_row(self, row: TotalsRow) -> None:
        self._all.add(row)
        when = self._when(row.started_at)
        if when is None:
            log.warning(
                "record with unreadable started_at %r left out of daily totals", row.started_at
            )
            return
        epoch, day = when
        self._day(day).add(row)
        for series in self._series.values():
            if (bucket := series.bucket(epoch)) is not None:
                bucket.add(row)

    def _add_group(self, group: TotalsGroup) -> None:
        self._all.add_group(group)
        when = self._when(group.started_at)
        if when is None:
            log.warning(
                "%d records with unreadable started_at %r left out of daily totals",
                group.requests,
                group.started_at,
            )
            return
        epoch, day = when
        self._day(day).add_group(group)
        for series in self._series.values():
            if group.width_s <= series.width_s and (bucket := series.bucket(epoch)) is not None:
                bucket.add_group(group)

    def _when(self, stamp: str) -> tuple[int, date] | None:
        """The epoch second and UTC date of a `started_at`, None if it cannot be read."""
        second = self._second
        if stamp[:19] == second[0] and stamp[19:20] in (".", "Z") and stamp.endswith("Z"):
            return second[1]
        try:
            at = _utc(datetime.fromisoformat(stamp))
        except ValueError:
            return None
        when = int(at.timestamp()), at.date()
        if stamp.endswith("Z") and len(stamp) >= 20:
            self._second = (stamp[:19], when)
        return when

    def _add_rollup(self, rollup: DayRollup) -> None:
        self._all.merge(rollup.tally)
        try:
            day = date.fromisoformat(rollup.day)
        except ValueError:
            return  # records whose time could not be read: all-time only, as in `_add_row`
        self._day(day).merge(rollup.tally)

    def _day(self, day: date) -> Tally:
        totals = self._days.get(day)
        if totals is None:
            totals = self._days[day] = Tally()
            newest = max(self._days)
            for old in [d for d in self._days if (newest - d).days > 1]:
                del self._days[old]
            if day not in self._days:  # a late record for a day already dropped
                return Tally()
        return totals


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
