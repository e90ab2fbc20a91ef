"""Stats.from_store, summed by SQLite, equals a Stats that was handed every record one by one.

A store with a bit of everything: records today, yesterday and up to 50 days
back (the oldest pruned into roll-ups), at the edges of the minute and hour
charts, error statuses, missing money and overheads, overheads on the
histogram's bucket edges, money in scientific notation, and started_at values
in every form the per-record path reads differently (offsets, no zone,
unreadable, valid-looking but impossible).
"""

from __future__ import annotations

import math
import random
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest

from orca_desktop.telemetry import _rollup
from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.stats import SeriesPoint, Stats
from orca_desktop.telemetry.store import SqliteStore
from orca_desktop.telemetry.totals import (
    OVERHEAD_BUCKET_PARAMS,
    OVERHEAD_BUCKET_SQL,
    DayRollup,
    OverheadHistogram,
    Tally,
)

NOW = datetime(
    2026, 3, 1, 0, 10, 0, tzinfo=UTC
)  # 10 minutes into the day: yesterday is in the charts
NEWEST = NOW - timedelta(seconds=20)  # the newest record
RETENTION_DAYS = 45
MINUTES, HOURS = 24 * 60, 30 * 24  # what Stats keeps by default
CHARTS: tuple[tuple[Literal["minute", "hour"], int], ...] = (("minute", MINUTES), ("hour", HOURS))


def gateway_stamp(at: datetime) -> str:
    """As the gateway writes it: `YYYY-MM-DDTHH:MM:SS.fffZ`."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def plain_stamps(rng: random.Random) -> list[str]:
    """Times in the gateway's form (a few without milliseconds), at the charts' edges too."""
    times = [NEWEST - timedelta(seconds=rng.uniform(0, 50 * 86400)) for _ in range(400)]
    times += [NEWEST - timedelta(seconds=rng.uniform(0, 86400)) for _ in range(200)]
    busy = NEWEST.replace(second=0, microsecond=0) - timedelta(minutes=3)
    times += [busy + timedelta(milliseconds=rng.randint(0, 2999)) for _ in range(40)]  # one second
    newest_minute = NEWEST.replace(second=0, microsecond=0)
    newest_hour = newest_minute.replace(minute=0)
    for edge in (
        newest_minute - timedelta(minutes=MINUTES - 1),  # the oldest minute kept
        newest_minute - timedelta(minutes=MINUTES),  # the one before: hour chart only
        newest_hour - timedelta(hours=HOURS - 1),
        newest_hour - timedelta(hours=HOURS),
    ):
        times += [edge, edge + timedelta(seconds=59, milliseconds=999)]
    stamps = [gateway_stamp(t) for t in times + [NEWEST]]
    stamps += [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times[::9]]  # no milliseconds
    return stamps


def other_stamps() -> list[str]:
    """started_at values the gateway never writes, each read as the per-record path reads it."""
    plus2 = timezone(timedelta(hours=2))
    late_yesterday = NOW - timedelta(minutes=40)  # 23:30 UTC yesterday, 01:30 today at +02:00
    hour = (NOW - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    minute = (NOW - timedelta(minutes=7)).replace(second=0, microsecond=0)
    return [
        (NOW - timedelta(hours=3)).isoformat(),  # +00:00
        (NOW - timedelta(hours=3)).isoformat(),  # the same instant again: one group of two
        late_yesterday.astimezone(plus2).isoformat(),
        (NOW - timedelta(days=3)).astimezone(plus2).isoformat(timespec="milliseconds"),
        (NOW - timedelta(minutes=2)).replace(tzinfo=None).isoformat(),  # no zone: UTC
        hour.strftime("%Y-%m-%dT%H"),  # the text of an hour key, as a whole started_at
        minute.strftime("%Y-%m-%dT%H:%M"),  # the text of a minute key
        (NOW - timedelta(minutes=9)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),  # microseconds
        (NOW - timedelta(minutes=9)).strftime("%Y-%m-%dT%H:%M:%S.000z"),  # lower-case z
        (NOW - timedelta(days=50)).isoformat(),  # pruned, into its day's roll-up
        "2026-13-01T00:00:00.000Z",  # the gateway's shape, but no such month
        "2026-02-30T10:00:00.000Z",  # no such day
        "2026-02-28T24:00:00.000Z",  # no such hour
        "２026-02-28T10:00:00.000Z",  # a full-width digit
        "2026-02-28T10:61:00.000Z",  # no such minute, in the minute chart's day
        "2026-02-20T10:61:00.000Z",  # no such minute, in the hour chart only
        "2026-02-28T10:30:60.000Z",  # no such second
        "2026-02-28T1:00:00.000ZZ",
        "not a time",
        "not a time",
        "",  # sorts first: pruned, into the "unknown" roll-up
    ]


def overheads() -> list[float | None]:
    """Overheads on and beside bucket edges, below 0.001 ms, none, and ordinary ones."""
    edges = [0.001 * 1.01**i for i in range(0, 1400, 4)]
    values: list[float | None] = [math.nextafter(e, d) for e in edges for d in (0.0, 1e9)]
    values += edges
    values += [0.001, math.nextafter(0.001, 0.0), 0.0, 1e-6, -0.25, None, None, None]
    return values


def money(rng: random.Random, sign: int) -> Decimal | None:
    kind = rng.randrange(6)
    if kind == 0:
        return None
    if kind == 1:
        return sign * Decimal(rng.randint(1, 9)) * Decimal("1E-8")  # str() is "3E-8"
    if kind == 2:
        return sign * Decimal("1.5E-7")
    if kind == 3:
        return sign * Decimal("12.345678901234567")
    return sign * Decimal(rng.randint(1, 10**6)) / Decimal(10**9)


def make_records(seed: int = 11) -> list[RequestRecord]:
    rng = random.Random(seed)
    stamps = plain_stamps(rng) + other_stamps()
    values = overheads()
    rng.shuffle(values)
    records = []
    for n, stamp in enumerate(stamps):
        records.append(
            RequestRecord(
                id=f"req-{n:05d}",
                started_at=stamp,
                endpoint="/v1/chat/completions",
                status=rng.choice([200, 200, 200, 0, 399, 400, 429, 500, 502]),
                cost_usd=money(rng, 1),
                savings_usd=money(rng, rng.choice([1, -1])),
                overhead_ms=values[n % len(values)] if n < len(values) else rng.random() * 50,
            )
        )
    rng.shuffle(records)  # stored, and counted, in no particular time order
    return records


def days(stats: Stats) -> dict[date, tuple[object, ...]]:
    return {day: tally_fields(t) for day, t in stats._days.items()}


def tally_fields(t: Tally) -> tuple[object, ...]:
    return (t.requests, t.errors, t.cost_usd, t.savings_usd, t.overhead.counts())


def assert_points_equal(got: list[SeriesPoint], want: list[SeriesPoint]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.start, g.requests, g.errors) == (w.start, w.requests, w.errors), w.start
        assert (g.cost_usd, g.savings_usd) == (w.cost_usd, w.savings_usd), w.start
        assert g.overhead_ms_max == w.overhead_ms_max, w.start
        if w.overhead_ms_mean is None:
            assert g.overhead_ms_mean is None, w.start
        else:  # summed in another order
            assert g.overhead_ms_mean == pytest.approx(w.overhead_ms_mean, rel=1e-12), w.start


@pytest.mark.parametrize("block", [_rollup.BLOCK, 5])  # 5: every minute and hour in pieces
def test_totals_summed_by_sqlite_equal_adding_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(_rollup, "BLOCK", block)
    path = tmp_path / "telemetry.sqlite3"
    records = make_records()
    with SqliteStore(path) as store:
        for r in records:
            store.add(r)
    with SqliteStore(path, retention_days=RETENTION_DAYS, clock=lambda: NOW):
        pass  # prunes at start; close waits for it
    with SqliteStore(path, retention_days=RETENTION_DAYS, clock=lambda: NOW) as store:
        rollups = [r for r in store.iter_totals() if isinstance(r, DayRollup)]
        restored = Stats.from_store(store)
    expected = Stats()
    for r in records:
        expected.add(r)

    assert {r.day for r in rollups} >= {"unknown", (NOW - timedelta(days=50)).date().isoformat()}
    assert restored.all_time() == expected.all_time()  # money exact, the same p50 and p99
    assert restored._all.overhead.counts() == expected._all.overhead.counts()  # every bucket
    assert restored.today(NOW) == expected.today(NOW)
    assert restored.today(NOW - timedelta(days=1)) == expected.today(NOW - timedelta(days=1))
    assert days(restored) == days(expected)
    assert restored.to_json(NOW) == expected.to_json(NOW)
    for now in (NEWEST, NOW):
        for resolution, points in CHARTS:
            want = expected.series(resolution, now=now, points=points)
            assert_points_equal(restored.series(resolution, now=now, points=points), want)
    # the cases above are really there
    assert expected.all_time().requests == len(records)
    minutes = expected.series("minute", now=NEWEST, points=MINUTES)
    assert minutes[0].requests == 2 and sum(p.requests for p in minutes) > 200
    assert expected.series("hour", now=NEWEST, points=HOURS)[0].requests >= 2


def test_an_empty_store_gives_empty_totals(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "t.sqlite3") as store:
        restored = Stats.from_store(store)
    assert restored.to_json(NOW) == Stats().to_json(NOW)


def test_unreadable_started_at_is_logged_and_counted_in_all_time_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.sqlite3"
    bad = ["2026-13-01T00:00:00.000Z", "not a time", "not a time"]
    with SqliteStore(path) as store:
        for n, stamp in enumerate(bad):
            store.add(RequestRecord(id=f"r{n}", started_at=stamp, endpoint="/v1/models"))
    with SqliteStore(path) as store:
        restored = Stats.from_store(store)
    assert restored.all_time().requests == 3
    assert restored._days == {}
    assert "2026-13-01T00:00:00.000Z" in caplog.text and "2 records" in caplog.text


def bucket_of(ms: float) -> int:
    histogram = OverheadHistogram()
    histogram.add(ms)
    (index,) = histogram.counts()
    return index


@pytest.mark.parametrize("ln", ["SQLite's", "Python's"])
def test_sqlite_puts_an_overhead_in_the_same_bucket_as_the_histogram(ln: str) -> None:
    conn = sqlite3.connect(":memory:")
    if ln == "Python's":  # what the store registers where SQLite lacks ln()
        conn.create_function("ln", 1, math.log, deterministic=True)
    values = [v for v in overheads() if v is not None]
    got = [
        conn.execute(
            f"SELECT {OVERHEAD_BUCKET_SQL} FROM (SELECT :ms AS overhead_ms)",
            {"ms": v, **OVERHEAD_BUCKET_PARAMS},
        ).fetchone()[0]
        for v in values
    ]
    conn.close()
    assert got == [bucket_of(v) for v in values]
