"""Stats: exact Decimal totals, overhead percentiles, today vs all time, restored from the store."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from orca_desktop.events import EventHub, RequestFinished
from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.stats import Stats
from orca_desktop.telemetry.store import SqliteStore
from orca_desktop.telemetry.totals import DayRollup, Tally, TotalsRow

DAY1 = datetime(2025, 6, 1, 10, 30, tzinfo=UTC)
DAY2 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def make_record(
    n: int,
    *,
    at: datetime = DAY2,
    status: int = 200,
    cost_usd: Decimal | None = Decimal("0.1"),
    savings_usd: Decimal | None = Decimal("0.2"),
    overhead_ms: float | None = 2.0,
) -> RequestRecord:
    return RequestRecord(
        id=f"req-{n}",
        started_at=at.isoformat(),
        endpoint="/v1/chat/completions",
        status=status,
        cost_usd=cost_usd,
        savings_usd=savings_usd,
        overhead_ms=overhead_ms,
    )


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_money_totals_are_exact_decimal_sums() -> None:
    stats = Stats()
    costs = [Decimal("0.1")] * 10 + [Decimal("0.000000123456789")] * 3
    for i, cost in enumerate(costs):
        stats.add(make_record(i, cost_usd=cost, savings_usd=-cost))
    stats.add(make_record(99, cost_usd=None, savings_usd=None))
    total = stats.all_time()
    assert total.cost_usd == sum(costs) == Decimal("1.000000370370367")
    assert total.savings_usd == Decimal("-1.000000370370367")
    assert total.requests == 14
    body = stats.to_json(DAY2)["all_time"]
    assert body["cost_usd"] == 1.00000037037  # JSON number, rounded to 12 places
    assert stats.today(DAY2) == total


def test_errors_count_statuses_of_400_and_above() -> None:
    stats = Stats()
    for i, status in enumerate([200, 200, 400, 404, 499, 502, 399]):
        stats.add(make_record(i, status=status))
    assert stats.to_json(DAY2)["all_time"]["errors"] == 4


def test_overhead_percentiles_match_a_sorted_list_within_half_a_percent() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(1.0, 1.2) for _ in range(5000)] + [0.0, 0.0]
    stats = Stats()
    for i, v in enumerate(values):
        stats.add(make_record(i, overhead_ms=v))
    total = stats.to_json(DAY2)["all_time"]
    for key, q in (("overhead_ms_p50", 0.5), ("overhead_ms_p99", 0.99)):
        assert total[key] == pytest.approx(nearest_rank(values, q), rel=0.006)


def test_no_overhead_data_gives_null_percentiles() -> None:
    stats = Stats()
    stats.add(make_record(1, overhead_ms=None))
    total = stats.to_json(DAY2)["all_time"]
    assert total["overhead_ms_p50"] is None and total["overhead_ms_p99"] is None


def test_today_counts_only_records_started_on_the_utc_date_of_now() -> None:
    stats = Stats()
    for i in range(3):
        stats.add(make_record(i, at=DAY1, cost_usd=Decimal("1"), overhead_ms=100.0))
    for i in range(3, 5):
        stats.add(make_record(i, at=DAY2, cost_usd=Decimal("0.5"), status=500, overhead_ms=1.0))
    body = stats.to_json(DAY2 + timedelta(hours=3))
    assert body["today"]["requests"] == 2
    assert body["today"]["errors"] == 2
    assert body["today"]["cost_usd"] == 1.0
    assert body["today"]["overhead_ms_p99"] == pytest.approx(1.0, rel=0.006)
    assert body["all_time"]["requests"] == 5
    assert body["all_time"]["cost_usd"] == 4.0
    assert stats.to_json(DAY1)["today"]["requests"] == 3
    nothing = stats.to_json(DAY2 + timedelta(days=1))["today"]
    assert nothing == {
        "requests": 0,
        "errors": 0,
        "cost_usd": 0.0,
        "savings_usd": 0.0,
        "overhead_ms_p50": None,
        "overhead_ms_p99": None,
    }


def test_stats_are_restored_from_the_store_after_a_restart(tmp_path: Path) -> None:
    records = [make_record(i, at=DAY1 if i < 4 else DAY2, overhead_ms=float(i)) for i in range(10)]
    live = Stats()
    with SqliteStore(tmp_path / "t.sqlite3") as store:
        for r in records:
            store.add(r)
            live.add(r)
    with SqliteStore(tmp_path / "t.sqlite3") as store:
        restored = Stats.from_store(store)
    assert restored.to_json(DAY2) == live.to_json(DAY2)
    assert restored.to_json(DAY2)["today"]["requests"] == 6


def test_on_event_counts_finished_requests_from_the_hub() -> None:
    hub, stats = EventHub(), Stats()
    hub.subscribe(stats.on_event)
    hub.publish(RequestFinished(request_id="a", at_ns=1, record=make_record(1)))
    assert stats.to_json(DAY2)["today"]["requests"] == 1


def test_series_buckets_spend_per_minute_with_gaps_as_zero() -> None:
    stats = Stats()
    t0 = datetime(2025, 6, 2, 9, 0, 10, tzinfo=UTC)
    stats.add(make_record(1, at=t0, cost_usd=Decimal("0.25"), overhead_ms=2.0))
    stats.add(
        make_record(2, at=t0 + timedelta(seconds=20), cost_usd=Decimal("0.5"), overhead_ms=4.0)
    )
    stats.add(make_record(3, at=t0 + timedelta(minutes=2), cost_usd=Decimal("1")))
    points = stats.series("minute", now=t0 + timedelta(minutes=2, seconds=5), points=4)
    assert [p.start for p in points] == [
        datetime(2025, 6, 2, 8, 59, tzinfo=UTC) + timedelta(minutes=k) for k in range(4)
    ]
    assert [p.requests for p in points] == [0, 2, 0, 1]
    assert [p.cost_usd for p in points] == [0, Decimal("0.75"), 0, Decimal("1")]
    assert (points[1].overhead_ms_mean, points[1].overhead_ms_max) == (3.0, 4.0)
    assert points[0].overhead_ms_mean is None
    hourly = stats.series("hour", now=t0, points=1)
    assert hourly[0].requests == 3 and hourly[0].savings_usd == Decimal("0.6")


def test_series_memory_is_bounded() -> None:
    stats = Stats(minutes_kept=10)
    for i in range(500):
        stats.add(make_record(i, at=DAY2 + timedelta(minutes=i)))
    now = DAY2 + timedelta(minutes=499)
    assert [p.requests for p in stats.series("minute", now=now, points=100)] == [1] * 10
    assert len(stats._series["minute"]._buckets) <= 10 + 64


def test_roll_ups_count_in_all_time_and_in_today_when_they_are_today() -> None:
    pruned = [make_record(i, at=DAY1, overhead_ms=float(i)) for i in range(5)]
    tally = Tally()
    for r in pruned:
        tally.add(TotalsRow(r.started_at, r.status, r.cost_usd, r.savings_usd, r.overhead_ms))
    stats = Stats()
    stats.load([DayRollup(DAY1.date().isoformat(), tally), DayRollup("unknown", Tally(1, 1))])
    stats.add(make_record(9, at=DAY2))
    expected = Stats()
    for r in [*pruned, make_record(9, at=DAY2)]:
        expected.add(r)
    assert stats.to_json(DAY1)["today"] == expected.to_json(DAY1)["today"]
    all_time = stats.to_json(DAY2)["all_time"]
    assert all_time == {**expected.to_json(DAY2)["all_time"], "requests": 7, "errors": 1}
