"""Stats skips re-parsing `started_at` within one second: the shortcut must never misdate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.stats import Stats


def at(stamp: str, n: int) -> RequestRecord:
    return RequestRecord(
        id=f"r{n}",
        started_at=stamp,
        endpoint="/v1/chat/completions",
        status=200,
        cost_usd=Decimal("1"),
        overhead_ms=1.0,
    )


def test_records_around_midnight_land_on_their_own_day_and_minute() -> None:
    stats = Stats()
    for n, stamp in enumerate(
        [
            "2026-11-21T23:59:59.100Z",
            "2026-11-21T23:59:59.900Z",  # same second: the shortcut
            "2026-11-22T00:00:00.050Z",  # next second, next day
            "2026-11-22T00:00:00.950Z",
        ]
    ):
        stats.add(at(stamp, n))
    now = datetime(2026, 11, 22, 0, 0, 30, tzinfo=UTC)
    assert stats.today(now).requests == 2
    assert stats.all_time().requests == 4
    minutes = stats.series("minute", now=now, points=2)
    assert [p.requests for p in minutes] == [2, 2]


def test_an_offset_stamp_with_the_same_clock_digits_is_parsed_not_shortcut() -> None:
    stats = Stats()
    stats.add(at("2026-11-22T01:00:00.500Z", 1))
    # the same wall-clock digits two hours ahead of UTC: 2026-11-21T23:00 UTC, yesterday
    stats.add(at("2026-11-22T01:00:00.700+02:00", 2))
    stats.add(at("2026-11-22T01:00:00", 3))  # naive: taken as UTC
    now = datetime(2026, 11, 22, 1, 0, 30, tzinfo=UTC)
    assert stats.today(now).requests == 2
    hours = stats.series("hour", now=now, points=3)
    assert [p.requests for p in hours] == [1, 0, 2]
