"""Retention for the store: old records become daily roll-ups, then go.

Runs on the store's writer thread only (it writes). A roll-up is the `Tally`
of one UTC day's pruned records: counts, exact money and the overhead
histogram, so all-time totals, p50 and p99 included, read the same before
and after pruning. Records are pruned in chunks, one transaction each, with
the roll-up merged and the records deleted in the same transaction: a crash
or a shutdown between chunks loses nothing and counts nothing twice.
"""

from __future__ import annotations

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


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
