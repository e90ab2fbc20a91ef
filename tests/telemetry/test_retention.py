"""Retention: records older than `retention_days` become daily roll-ups; totals never change."""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from orca_desktop.telemetry import _rollup
from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.stats import Stats
from orca_desktop.telemetry.store import SqliteStore
from orca_desktop.telemetry.totals import DayRollup
from tests.telemetry.test_store import write_schema_1_database

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def make_record(n: int, *, day: date, status: int = 200, hour: int = 9) -> RequestRecord:
    rng = random.Random(n)
    return RequestRecord(
        id=f"req-{n:04d}",
        started_at=f"{day.isoformat()}T{hour:02d}:{n % 60:02d}:00.000Z",
        endpoint="/v1/chat/completions",
        status=status,
        cost_usd=Decimal(rng.randint(1, 10**6)) / Decimal(10**9),
        savings_usd=Decimal(rng.randint(-(10**6), 10**6)) / Decimal(10**9),
        overhead_ms=rng.lognormvariate(0.0, 1.0),
    )


def days_ago(n: int) -> date:
    return (NOW - timedelta(days=n)).date()


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def fill(path: Path, records: list[RequestRecord]) -> None:
    with SqliteStore(path) as store:  # retention 0: keeps everything
        for r in records:
            store.add(r)


def stats_of(records: list[RequestRecord]) -> Stats:
    stats = Stats()
    for r in records:
        stats.add(r)
    return stats


def stored_ids(path: Path) -> list[str]:
    with SqliteStore(path) as store:
        return sorted(r.id for r in store.recent(10_000))


def rollups(path: Path) -> dict[str, tuple[int, int]]:
    with SqliteStore(path) as store:
        return {
            row.day: (row.tally.requests, row.tally.errors)
            for row in store.iter_totals()
            if isinstance(row, DayRollup)
        }


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "telemetry.sqlite3"


def test_records_older_than_the_retention_become_daily_totals(db_path: Path) -> None:
    old = [make_record(i, day=days_ago(9), status=500 if i == 0 else 200) for i in range(3)]
    old += [make_record(i, day=days_ago(4)) for i in range(3, 5)]
    kept = [make_record(i, day=days_ago(3)) for i in range(5, 7)]  # the oldest day kept
    kept += [make_record(i, day=days_ago(0)) for i in range(7, 8)]
    fill(db_path, old + kept)

    with SqliteStore(db_path, retention_days=3, clock=lambda: NOW):
        pass  # pruning runs at start, on the writer thread; close waits for it

    assert stored_ids(db_path) == sorted(r.id for r in kept)
    assert rollups(db_path) == {days_ago(9).isoformat(): (3, 1), days_ago(4).isoformat(): (2, 0)}


def test_totals_read_back_are_the_same_before_and_after_pruning(db_path: Path) -> None:
    records = [
        make_record(i, day=days_ago(i % 12), status=(200, 502)[i % 5 == 0]) for i in range(300)
    ]
    fill(db_path, records)

    with SqliteStore(db_path, retention_days=2, clock=lambda: NOW) as store:
        during = Stats.from_store(store)  # while the start-up prune may be running
    with SqliteStore(db_path, retention_days=2, clock=lambda: NOW) as store:
        after = Stats.from_store(store)

    expected = stats_of(records).to_json(NOW)
    assert after.to_json(NOW) == expected  # money exact, p50/p99 from the same buckets
    assert during.to_json(NOW) == expected
    assert expected["all_time"]["requests"] == 300
    assert len(stored_ids(db_path)) == len([r for r in records if r.started_at >= "2025-06-08"])


def test_pruning_runs_again_when_the_date_moves_on(db_path: Path) -> None:
    clock = Clock(NOW)
    first = make_record(1, day=NOW.date())
    later = make_record(2, day=(NOW + timedelta(days=3)).date())
    with SqliteStore(db_path, retention_days=1, clock=clock, flush_interval_s=0.01) as store:
        store.add(first)
        clock.now = NOW + timedelta(days=3)
        store.add(later)  # its batch is followed by a check: the cut-off date has moved
        deadline = time.monotonic() + 30
        while len(store.recent(5)) > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert stored_ids(db_path) == [later.id]
    assert rollups(db_path) == {NOW.date().isoformat(): (1, 0)}


def test_zero_retention_keeps_every_record(db_path: Path) -> None:
    records = [make_record(i, day=date(2020, 1, 1) + timedelta(days=i)) for i in range(5)]
    fill(db_path, records)
    with SqliteStore(db_path, retention_days=0, clock=lambda: NOW):
        pass
    assert stored_ids(db_path) == sorted(r.id for r in records)
    assert rollups(db_path) == {}


def test_a_day_pruned_in_two_goes_is_one_roll_up(db_path: Path) -> None:
    day = days_ago(20)
    first, late = [make_record(i, day=day) for i in range(4)], [make_record(9, day=day)]
    fill(db_path, first)
    with SqliteStore(db_path, retention_days=5, clock=lambda: NOW):
        pass
    fill(db_path, late)  # a record for that day arrives after it was pruned
    with SqliteStore(db_path, retention_days=5, clock=lambda: NOW) as store:
        restored = Stats.from_store(store)
    assert rollups(db_path) == {day.isoformat(): (5, 0)}
    assert restored.to_json(NOW) == stats_of(first + late).to_json(NOW)


def test_a_schema_1_database_is_pruned_into_roll_ups(db_path: Path) -> None:
    records = [make_record(i, day=days_ago(40 - i)) for i in range(40)]
    write_schema_1_database(db_path, records)
    with SqliteStore(db_path, retention_days=30, clock=lambda: NOW):
        pass
    with SqliteStore(db_path, retention_days=30, clock=lambda: NOW) as store:
        restored = Stats.from_store(store)
        assert [r.id for r in store.recent(1)] == [records[-1].id]
    assert restored.to_json(NOW) == stats_of(records).to_json(NOW)
    assert len(stored_ids(db_path)) == 30  # days_ago(30) .. days_ago(1)


def test_prune_works_in_chunks_of_records(db_path: Path) -> None:
    records = [make_record(i, day=days_ago(10 + i % 3)) for i in range(10)]
    fill(db_path, records)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert _rollup.prune(conn, days_ago(5), chunk=3) == (10, True)
        counts = conn.execute("SELECT day, requests FROM daily_totals ORDER BY day").fetchall()
    finally:
        conn.close()
    assert counts == [
        (days_ago(12).isoformat(), 3),
        (days_ago(11).isoformat(), 3),
        (days_ago(10).isoformat(), 4),
    ]


def test_a_stop_request_ends_a_prune_between_chunks_and_the_next_one_finishes_it(
    db_path: Path,
) -> None:
    records = [make_record(i, day=days_ago(10)) for i in range(7)]
    fill(db_path, records)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert _rollup.prune(conn, days_ago(5), chunk=3, stop=lambda: True) == (3, False)
        assert _rollup.prune(conn, days_ago(5), chunk=3) == (4, True)
        (requests,) = conn.execute("SELECT requests FROM daily_totals").fetchone()
        (left,) = conn.execute("SELECT COUNT(*) FROM requests").fetchone()
    finally:
        conn.close()
    assert (requests, left) == (7, 0)


def test_negative_retention_is_refused(db_path: Path) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        SqliteStore(db_path, retention_days=-1)


def file_bytes(path: Path) -> int:
    """The database and its WAL, as the file system counts them."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def wait_until_smaller(path: Path, than: float) -> None:
    """Until the database file is smaller than `than` bytes: the writer gave space back.

    Needed because closing the store right away would stop it first (a
    shutdown never waits for space to be given back).
    """
    deadline = time.monotonic() + 30
    while path.stat().st_size >= than and time.monotonic() < deadline:
        time.sleep(0.01)


def pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


def test_a_prune_of_most_records_gives_the_space_back(db_path: Path) -> None:
    old = [make_record(i, day=days_ago(10)) for i in range(6000)]
    kept = [make_record(i, day=days_ago(0)) for i in range(6000, 6300)]
    fill(db_path, old + kept)
    full = file_bytes(db_path)

    with SqliteStore(db_path, retention_days=3, clock=lambda: NOW):
        wait_until_smaller(db_path, full / 5)

    assert file_bytes(db_path) < full / 5
    assert pragma(db_path, "freelist_count") == 0
    assert pragma(db_path, "auto_vacuum") == _rollup.INCREMENTAL
    assert stored_ids(db_path) == sorted(r.id for r in kept)
    assert rollups(db_path) == {days_ago(10).isoformat(): (6000, 0)}


def test_a_file_made_before_auto_vacuum_is_converted_and_gives_the_space_back(
    db_path: Path,
) -> None:
    records = [make_record(i, day=days_ago(10 if i < 5000 else 1)) for i in range(5200)]
    write_schema_1_database(db_path, records)  # no auto-vacuum, as every file used to be
    assert pragma(db_path, "auto_vacuum") == 0
    full = file_bytes(db_path)

    with SqliteStore(db_path, retention_days=3, clock=lambda: NOW) as store:
        store.add(make_record(9999, day=days_ago(0)))  # added while it converts: kept
        wait_until_smaller(db_path, full / 5)

    assert pragma(db_path, "auto_vacuum") == _rollup.INCREMENTAL
    assert file_bytes(db_path) < full / 5
    assert stored_ids(db_path) == sorted([r.id for r in records[5000:]] + ["req-9999"])
    with SqliteStore(db_path) as store:
        assert Stats.from_store(store).to_json(NOW) == stats_of(
            [*records, make_record(9999, day=days_ago(0))]
        ).to_json(NOW)


def test_a_file_too_large_to_convert_keeps_its_free_pages_for_new_records(db_path: Path) -> None:
    write_schema_1_database(db_path, [make_record(i, day=days_ago(10)) for i in range(2000)])
    fill(db_path, [])  # migrated to schema 2, still without auto-vacuum
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        _rollup.prune(conn, days_ago(5))
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        assert _rollup.enable_auto_vacuum(conn, max_bytes=1024) is False
        assert _rollup.reclaim_free_pages(conn) == 0
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == free > 0
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    finally:
        conn.close()


def test_a_stop_request_leaves_the_free_pages_for_the_next_prune(db_path: Path) -> None:
    fill(db_path, [make_record(i, day=days_ago(10)) for i in range(2000)])
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        _rollup.prune(conn, days_ago(5))
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        assert _rollup.reclaim_free_pages(conn, stop=lambda: True) == 0
        assert _rollup.reclaim_free_pages(conn) == free > 0
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        conn.close()
