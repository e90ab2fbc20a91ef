"""Retention for the store: old records become daily roll-ups, then go, and so does their space.

Runs on the store's writer thread only (it writes). A roll-up is the `Tally`
of one UTC day's pruned records: counts, exact money and the overhead
histogram, so all-time totals, p50 and p99 included, read the same before
and after pruning. Records are pruned in chunks, one transaction each, with
the roll-up merged and the records deleted in the same transaction: a crash
or a shutdown between chunks loses nothing and counts nothing twice.

Deleted records leave free pages that SQLite reuses but never gives back by
itself. New files are made with incremental auto-vacuum (the store sets it
before the file exists); `reclaim_free_pages` hands the free pages back to
the file system after a prune that freed a large share of the file, and
`enable_auto_vacuum` rebuilds an older file once, when that is quick, so it
can do the same. Neither changes a record.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson

from orca_desktop.telemetry.totals import DayRollup, Tally, TotalsRow

# An unreadable started_at (never written by the gateway) still counts, all-time only.
UNKNOWN_DAY = "unknown"

SCHEMA_V2 = """
CREATE TABLE daily_totals (
    day          TEXT PRIMARY KEY,  -- UTC date YYYY-MM-DD of the records' started_at
    requests     INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    cost_usd     TEXT NOT NULL,     -- exact decimal
    savings_usd  TEXT NOT NULL,
    overhead     TEXT NOT NULL      -- JSON {"bucket index": count}, see telemetry.totals
);
"""

INCREMENTAL = 2  # PRAGMA auto_vacuum value
# Free pages go back once they are this share of the file. A daily prune under
# a long retention frees about what the next day's records fill again; moving
# those pages to the end of the file and back would be work for nothing.
RECLAIM_FREE_SHARE = 0.25
_RECLAIM_STEP_PAGES = 2048  # a transaction each: a shutdown waits for one step at most
# VACUUM copies every live page into a temporary file and back through the WAL
# (~0.4 s for 64 MB on the 2-core dev machine), needing that much free disk twice
# over meanwhile. Beyond this size a file keeps reusing its free pages instead.
VACUUM_MAX_BYTES = 64 << 20

_SELECT_OLD = """
SELECT seq, started_at, status, cost_usd, savings_usd, overhead_ms FROM requests
WHERE started_at < ? ORDER BY started_at LIMIT ?
"""


def prune(
    conn: sqlite3.Connection,
    before: date,
    *,
    chunk: int = 5000,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[int, bool]:
    """Roll up and delete the records that started before the UTC date `before`.

    Returns how many were pruned and whether all were (False when `stop()`
    said so between chunks). `conn` is in autocommit mode.
    """
    cutoff = before.isoformat()  # ISO text sorts by time for the UTC "...Z" stamps we write
    pruned = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(_SELECT_OLD, (cutoff, chunk)).fetchall()
            tallies: dict[str, Tally] = {}
            for _, started_at, status, cost, savings, overhead in rows:
                row = TotalsRow(started_at, status, _dec(cost), _dec(savings), overhead)
                tallies.setdefault(day_of(started_at), Tally()).add(row)
            for day, tally in tallies.items():
                _merge(conn, day, tally)
            conn.executemany("DELETE FROM requests WHERE seq = ?", [(r[0],) for r in rows])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        pruned += len(rows)
        if len(rows) < chunk:
            return pruned, True
        if stop():
            return pruned, False


def enable_auto_vacuum(conn: sqlite3.Connection, *, max_bytes: int = VACUUM_MAX_BYTES) -> bool:
    """Give a file made without incremental auto-vacuum that mode, by a VACUUM, if it is cheap.

    Returns whether the file has the mode now. Skips (False) a file with more
    than `max_bytes` of live pages, or when its disk has less than twice that
    free. A VACUUM is one transaction: it fails whole (disk full) or not at all.
    `conn` is in autocommit mode, outside a transaction.
    """
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL:
        return True
    page_count, free_pages, page_size = _pages(conn)
    live_bytes = (page_count - free_pages) * page_size
    databases = conn.execute("PRAGMA database_list").fetchall()  # (seq, name, file)
    path = next(file for _, name, file in databases if name == "main")
    if live_bytes > max_bytes or shutil.disk_usage(path).free < 2 * live_bytes:
        return False
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # VACUUM applies it
    conn.execute("VACUUM")
    _checkpoint(conn)
    return bool(conn.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL)


def reclaim_free_pages(
    conn: sqlite3.Connection, *, stop: Callable[[], bool] = lambda: False
) -> int:
    """Hand the file's free pages back to the file system, if they are a large enough share.

    Returns how many pages went back (0 without incremental auto-vacuum). Works
    in steps, one transaction each, and ends early when `stop()` says so; the
    pages left stay free for new records. `conn` is in autocommit mode.
    """
    page_count, free_pages, _ = _pages(conn)
    if free_pages < max(1, page_count * RECLAIM_FREE_SHARE):
        return 0
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
        return 0
    left = free_pages
    while left and not stop():
        # executescript runs the pragma to its end; execute() would step it once,
        # which frees a single page (one result row per page).
        conn.executescript(f"PRAGMA incremental_vacuum({_RECLAIM_STEP_PAGES})")
        before, left = left, _pages(conn)[1]
        if left >= before:  # nothing moved: do not spin
            break
    _checkpoint(conn)
    return free_pages - left


def read_rollups(conn: sqlite3.Connection) -> Iterator[DayRollup]:
    """Every roll-up, oldest day first."""
    cur = conn.execute(
        "SELECT day, requests, errors, cost_usd, savings_usd, overhead FROM daily_totals"
        " ORDER BY day"
    )
    for day, requests, errors, cost, savings, overhead in cur:
        yield DayRollup(day, _tally(requests, errors, cost, savings, overhead))


def day_of(started_at: str) -> str:
    """The UTC date of an ISO 8601 time, as `Stats` reads it."""
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return UNKNOWN_DAY
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date().isoformat()


def _merge(conn: sqlite3.Connection, day: str, tally: Tally) -> None:
    old = conn.execute(
        "SELECT requests, errors, cost_usd, savings_usd, overhead FROM daily_totals WHERE day = ?",
        (day,),
    ).fetchone()
    if old is not None:
        tally.merge(_tally(*old))
    conn.execute(
        "INSERT OR REPLACE INTO daily_totals VALUES (?, ?, ?, ?, ?, ?)",
        (
            day,
            tally.requests,
            tally.errors,
            str(tally.cost_usd),
            str(tally.savings_usd),
            orjson.dumps(tally.overhead.counts(), option=orjson.OPT_NON_STR_KEYS).decode(),
        ),
    )


def _tally(requests: int, errors: int, cost: str, savings: str, overhead: str) -> Tally:
    tally = Tally(requests, errors, Decimal(cost), Decimal(savings))
    tally.overhead.merge({int(k): int(v) for k, v in orjson.loads(overhead).items()})
    return tally


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL into the file now: the file takes its new, smaller size only then.

    Passive: it never waits for readers; what it cannot copy yet, a later
    automatic checkpoint does.
    """
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _pages(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """The file's page count, free pages and page size."""
    (count,) = conn.execute("PRAGMA page_count").fetchone()
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    return int(count), int(free), int(size)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
