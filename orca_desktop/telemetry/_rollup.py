"""Totals computed in the database: retention roll-ups, and the sums `Stats` starts from.

Retention: old records become daily roll-ups, then go, and so does their
space. That part runs on the store's writer thread only (it writes). A roll-up is the `Tally`
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

Start-up sums (`sum_records`, read-only): `Stats` needs every stored record
counted, but only by UTC day, hour and, for the newest day, minute. SQLite
adds the records up per minute or hour (counts, the overhead sum, maximum and
histogram bucket), so Python sees a few thousand groups instead of every
record: a full Python pass over 400k records took ~2 s and left ~9 MiB of
fragmented heap behind. Money is never summed by SQLite (its SUM goes through
floats): each group hands over its amounts as text, which Python sums as
`Decimal`. Records are read in blocks of `seq`, so SQLite sorts, and Python
holds, one block's text at a time.
"""

from __future__ import annotations

import math
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import orjson

from orca_desktop.telemetry.totals import (
    OVERHEAD_BUCKET_PARAMS,
    OVERHEAD_BUCKET_SQL,
    DayRollup,
    Tally,
    TotalsGroup,
    TotalsRow,
)

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


# The gateway stamps records `YYYY-MM-DDTHH:MM:SS.fffZ` (UTC). Records in that
# form, or without the milliseconds ("plain" ones), are summed per minute or
# hour; any other started_at is grouped by its own text and read in Python.
# SQLite checks only the part after the hour (a GLOB character class costs it
# ~10 ns per row); the minute or hour key is checked in Python, once per key
# (`_plain_key`). A key of the other kind is the started_at and a space: it
# never ends in a digit, as a valid minute or hour key does; a key that is
# neither is read again record by record.
_AFTER_HOUR = ":[0-5][0-9]:[0-5][0-9]"
_GLOB_MS = "?" * 13 + _AFTER_HOUR + ".[0-9][0-9][0-9]Z"
_GLOB_S = "?" * 13 + _AFTER_HOUR + "Z"
_PLAIN = "(started_at GLOB :glob_ms OR started_at GLOB :glob_s)"
_KEY = (
    f"CASE WHEN NOT {_PLAIN} THEN started_at || ' '"
    " WHEN started_at >= :minutes_from THEN substr(started_at, 1, 16)"
    " ELSE substr(started_at, 1, 13) END"
)
_WIDTH_S = {16: 60, 13: 3600}  # length of a plain key → its span
_IN_BLOCK = "seq > :after AND seq <= :upto"
_SUM_BLOCK = f"""
SELECT {_KEY}, count(*), sum(status >= 400), sum(overhead_ms), count(overhead_ms),
    max(overhead_ms), group_concat(cost_usd), group_concat(savings_usd),
    group_concat({OVERHEAD_BUCKET_SQL})
FROM requests WHERE {_IN_BLOCK} GROUP BY 1
"""
_ROWS_OF_KEY = f"""
SELECT started_at, status, cost_usd, savings_usd, overhead_ms FROM requests
WHERE {_IN_BLOCK} AND {_KEY} = :key ORDER BY seq
"""
_NEWEST_PLAIN = f"SELECT started_at FROM requests WHERE {_PLAIN} ORDER BY started_at DESC"
_KEY_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}(:[0-9]{2})?")
# Records per query: what SQLite sorts and Python holds at once. Smaller blocks
# leave less of the C heap fragmented behind them; from 1024 to 4096 the time
# is the same (~0.5 s CPU for 400k records).
BLOCK = 2048


def sum_records(conn: sqlite3.Connection, *, minutes: int) -> Iterator[TotalsGroup | TotalsRow]:
    """Every stored record, summed per minute for the newest `minutes` of them, else per hour.

    Yields `TotalsGroup`s, and the records of a group whose key is not a
    valid time (a month 13, say) one by one as `TotalsRow`s, to be read as
    `Stats` reads any record. Run it inside one read transaction: it queries
    the table block by block. A minute or hour may come in several groups.
    """
    _ensure_ln(conn)
    first, last = conn.execute("SELECT min(seq), max(seq) FROM requests").fetchone()
    if first is None:
        return
    params: dict[str, object] = {
        "glob_ms": _GLOB_MS,
        "glob_s": _GLOB_S,
        "minutes_from": _minutes_from(conn, minutes),
        **OVERHEAD_BUCKET_PARAMS,
    }
    plain: dict[str, bool] = {}  # minute and hour keys checked so far
    for after in range(first - 1, last, BLOCK):
        params.update(after=after, upto=after + BLOCK)
        for key, *sums in conn.execute(_SUM_BLOCK, params).fetchall():
            if key.endswith(" "):
                yield _group(key[:-1], 0, *sums)
                continue
            if key not in plain:
                plain[key] = _plain_key(key)
            if plain[key]:
                yield _group(key, _WIDTH_S[len(key)], *sums)
            else:
                yield from _rows_of_key(conn, {**params, "key": key})


def _minutes_from(conn: sqlite3.Connection, minutes: int) -> str | None:
    """The first minute (`YYYY-MM-DDTHH:MM`) to sum by minute, `minutes` before the newest record's.

    None when no record is stamped in the gateway's form. A newer record in
    another form only moves the minute chart on, past minutes summed here.
    """
    for (started_at,) in conn.execute(_NEWEST_PLAIN, {"glob_ms": _GLOB_MS, "glob_s": _GLOB_S}):
        if _plain_key(started_at[:16]):
            newest = datetime.fromisoformat(started_at[:16])
            try:
                return (newest - timedelta(minutes=minutes - 1)).isoformat(timespec="minutes")
            except OverflowError:  # before year 1: every minute is a newest one
                return ""
    return None


def _plain_key(key: str) -> bool:
    """Whether an hour or minute key is a valid time, in ASCII digits.

    A started_at made of it and a tail SQLite checked (`_GLOB_MS`) is then
    exactly the form `datetime.fromisoformat` reads as that minute or hour.
    """
    if not _KEY_SHAPE.fullmatch(key):
        return False
    try:
        datetime.fromisoformat(key)
    except ValueError:
        return False
    return True


def _group(
    started_at: str,
    width_s: int,
    requests: int,
    errors: int,
    overhead_sum: float | None,
    overhead_count: int,
    overhead_max: float | None,
    costs: str | None,
    savings: str | None,
    buckets: str | None,
) -> TotalsGroup:
    return TotalsGroup(
        started_at,
        width_s,
        requests,
        errors,
        _sum_text(costs),
        _sum_text(savings),
        overhead_sum or 0.0,
        overhead_count,
        overhead_max,
        {int(k): n for k, n in Counter(buckets.split(",")).items()} if buckets else {},
    )


def _sum_text(amounts: str | None) -> Decimal:
    """The exact sum of comma-separated decimal amounts (a `group_concat`); NULLs were left out."""
    return sum(map(Decimal, amounts.split(",")), Decimal(0)) if amounts else Decimal(0)


def _rows_of_key(conn: sqlite3.Connection, params: dict[str, object]) -> Iterator[TotalsRow]:
    for started_at, status, cost, savings, overhead in conn.execute(_ROWS_OF_KEY, params):
        yield TotalsRow(started_at, status, _dec(cost), _dec(savings), overhead)


def _ensure_ln(conn: sqlite3.Connection) -> None:
    """SQLite has ln() only when built with its math functions; else it is Python's (slower)."""
    try:
        conn.execute("SELECT ln(1.0)").fetchone()
    except sqlite3.OperationalError:
        conn.create_function("ln", 1, math.log, deterministic=True)


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
