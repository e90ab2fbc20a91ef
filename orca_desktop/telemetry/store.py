"""The SQLite telemetry store: every request record, kept across restarts.

Owns the database file and the one thread that writes to it. `add` never
blocks and never touches SQLite: it encodes the record and leaves it for a
dedicated writer thread, which writes what gathered in batches, one
transaction per batch. Reads (`recent`, `recent_json`, `iter_totals`) are
blocking calls on their own connection (WAL lets them run beside the
writer); callers on the event loop run them in an executor, never on the
loop itself. Reads see a record as soon as `add` returns, even before the
writer has committed it (read-your-writes), so a client that learnt an id
from the live feed can page with it at once.

Durability: `close` writes everything that was added. A crash loses at most
the batch being collected (the last `flush_interval_s`).

Cost: the writer thread shares a core and the GIL with the gateway, so a
record is cheap to keep: a compact array (`_codec`, about half the bytes of
its JSON object), many rows per INSERT statement (fewer SQLite steps, each a
GIL hand-over), one transaction per batch. `bench/store_bench.py` measures it.

Retention: with `retention_days` > 0 the writer thread prunes records older
than that many whole UTC days, at start and whenever the date moves on
(checked after each batch and at least hourly), keeping their totals as
daily roll-ups (`_rollup`) that `iter_totals` returns with the records' sums.
After a prune the file gives the space back (incremental auto-vacuum; a file
made before that is converted once by a VACUUM when it is small enough). All
of it runs on the writer thread; records added meanwhile wait in memory,
readable as always, and are written when it is done.

Never holds prompt or completion text or a secret: it stores `RequestRecord`s
and their totals, nothing else.
"""

from __future__ import annotations

import functools
import itertools
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from orca_desktop.telemetry import _codec, _rollup
from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.totals import DayRollup, TotalsGroup, TotalsRow

__all__ = ["DayRollup", "SqliteStore", "TotalsGroup", "TotalsRow"]

log = logging.getLogger(__name__)

# 2: records stored as `_codec` arrays (schema-1 JSON objects still read), and
# the `daily_totals` roll-ups. Migrating 1 -> 2 only adds the table.
SCHEMA_VERSION = 2
_PRUNE_CHECK_S = 3600.0
_ROWS_PER_INSERT = 64  # x 8 parameters, well under SQLite's oldest limit of 999
# After a prune or a VACUUM the WAL may have grown to the size of what moved;
# SQLite truncates it to this when it next starts over (a normal WAL stays
# under it: it is checkpointed at 1000 pages, ~4 MiB).
_WAL_LIMIT_BYTES = 8 << 20
# The page cache of the connection that sums every record at start-up. A scan
# reads each page once; SQLite's default 2 MiB would only be handed back to the
# C heap at the end, where it stays as resident memory.
_SCAN_CACHE_KIB = 64

# `seq` is the order in which records were added (assigned in `add`, so it
# also orders records still waiting for the writer). It is the rowid alias on
# purpose: an implicit rowid may be renumbered by VACUUM, an INTEGER PRIMARY
# KEY never is. `id` (the X-Orca-Request-Id) carries no order of its own.
_SCHEMA_V1 = """
CREATE TABLE requests (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    started_at   TEXT NOT NULL,
    status       INTEGER NOT NULL,
    cost_usd     TEXT,
    savings_usd  TEXT,
    overhead_ms  REAL,
    record       TEXT NOT NULL  -- schema 1: to_json() text; schema 2: _codec bytes
);
CREATE INDEX requests_started_at ON requests (started_at);
"""

_COLUMNS = "(seq, id, started_at, status, cost_usd, savings_usd, overhead_ms, record)"
_UPSERT = """
ON CONFLICT (id) DO UPDATE SET
    seq = excluded.seq, started_at = excluded.started_at, status = excluded.status,
    cost_usd = excluded.cost_usd, savings_usd = excluded.savings_usd,
    overhead_ms = excluded.overhead_ms, record = excluded.record
"""


@functools.cache
def _insert_sql(rows: int) -> str:
    """One INSERT of `rows` rows (a batch never holds an id twice: `_pending` is keyed by id)."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return f"INSERT INTO requests {_COLUMNS} VALUES {values} {_UPSERT}"


class _Row(NamedTuple):
    """A record as it goes into the `requests` table, in `_COLUMNS` order."""

    seq: int
    id: str
    started_at: str
    status: int
    cost_usd: str | None
    savings_usd: str | None
    overhead_ms: float | None
    record: bytes  # _codec.encode


class SqliteStore:
    """Request records in SQLite (WAL), written in batches by one writer thread.

    Invariants: only the writer thread writes; `add` never blocks; records
    are returned newest (most recently added) first; everything added before
    `close` is on disk after it; a record is either stored or counted in a
    roll-up, never both.

    `retention_days` 0 keeps records forever; N > 0 keeps the records of
    today (UTC, by `clock`) and the N days before it.
    """

    def __init__(
        self,
        path: Path,
        *,
        flush_interval_s: float = 0.25,
        retention_days: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if retention_days < 0:
            raise ValueError("retention_days must be 0 (keep forever) or more")
        self.path = Path(path)
        self._flush_interval_s = flush_interval_s
        self._retention_days = retention_days
        self._clock = clock
        self._pruned_before: date | None = None  # writer thread only
        # Records added but not yet committed, for read-your-writes. Guarded by
        # `_pending_lock`, held only for dict operations (never during I/O).
        self._pending: dict[str, _Row] = {}
        self._pending_lock = threading.Lock()
        self._seq = itertools.count(1)
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._closed = False
        self._closing = threading.Event()
        self._work = threading.Event()

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        """Create or migrate the database and start the writer thread. Blocking."""
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # made here so a broken file fails `start`, then handed to the writer thread
        conn = self._connect(any_thread=True)
        try:
            self._migrate(conn)
            last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0]
        except BaseException:
            conn.close()
            raise
        self._seq = itertools.count(int(last) + 1)
        self._writer = threading.Thread(
            target=self._run_writer, args=(conn,), name="orca-sqlite-writer", daemon=True
        )
        self._writer.start()

    def close(self) -> None:
        """Write everything added so far, stop the writer and close connections. Blocking."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._closing.set()
            self._work.set()
            self._writer.join()
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def __enter__(self) -> SqliteStore:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------

    def add(self, record: RequestRecord) -> None:
        """Hand `record` to the writer. Never blocks or raises; it keeps `record` as it is now.

        Encodes the record here, on the caller's thread (~2 µs): pending
        records then wait as bytes, which the garbage collector never has to
        walk, instead of as a dozen live objects each; keeping the objects
        alive for a batch cost more in collections than encoding them here.
        """
        if self._closed:
            log.warning("telemetry store is closed; record %s not stored", record.id)
            return
        if self._writer is None:
            raise RuntimeError("SqliteStore.add before start()")
        try:
            stored = _codec.encode(record)
        except Exception:  # one unserialisable record must not break the request or the store
            log.exception("telemetry store: cannot serialise record %s", record.id)
            return
        cost = None if record.cost_usd is None else str(record.cost_usd)
        savings = None if record.savings_usd is None else str(record.savings_usd)
        with self._pending_lock:
            row = _Row(
                next(self._seq),
                record.id,
                record.started_at,
                record.status,
                cost,
                savings,
                record.overhead_ms,
                stored,
            )
            # re-inserted, not updated in place, so the dict stays in seq order
            self._pending.pop(record.id, None)
            self._pending[record.id] = row
        if not self._work.is_set():  # wake the writer once per batch, not once per record
            self._work.set()

    def _run_writer(self, conn: sqlite3.Connection) -> None:
        """Sleep until there is work, let a batch gather, write everything pending.

        Records wait in `_pending` (which reads also see); there is no queue, so
        adding a record costs the loop a dict insert and, at most once a batch,
        a wake-up of this thread. Pruning is due at start and after midnight
        UTC; it is checked after every batch and, when idle, every hour.
        """
        idle_wait = _PRUNE_CHECK_S if self._retention_days else None
        try:
            self._prune_if_due(conn)
            while True:
                if self._work.wait(idle_wait) and not self._closed:
                    self._closing.wait(self._flush_interval_s)
                self._work.clear()
                with self._pending_lock:
                    batch = list(self._pending.values())
                if batch:
                    self._write(conn, batch)
                if self._closed:
                    with self._pending_lock:
                        if not self._pending:
                            return
                else:
                    self._prune_if_due(conn)
        finally:
            conn.close()

    def _write(self, conn: sqlite3.Connection, batch: list[_Row]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for i in range(0, len(batch), _ROWS_PER_INSERT):
                    chunk = batch[i : i + _ROWS_PER_INSERT]
                    conn.execute(_insert_sql(len(chunk)), list(itertools.chain(*chunk)))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error:
            # Dropping the batch keeps memory bounded when the disk is full or
            # the file is broken; the gateway keeps serving either way.
            log.exception("telemetry store: could not write %d records", len(batch))
        with self._pending_lock:
            for row in batch:
                if self._pending.get(row.id) is row:
                    del self._pending[row.id]

    def _prune_if_due(self, conn: sqlite3.Connection) -> None:
        if not self._retention_days:
            return
        before = self._clock().astimezone(UTC).date() - timedelta(days=self._retention_days)
        if before == self._pruned_before:
            return
        try:
            pruned, done = _rollup.prune(conn, before, stop=lambda: self._closed)
        except sqlite3.Error:
            log.exception("telemetry store: could not prune records before %s", before)
            return
        if pruned:
            log.info("telemetry store: %d records before %s moved to daily totals", pruned, before)
        if done:
            self._pruned_before = before
            self._give_space_back(conn)

    def _give_space_back(self, conn: sqlite3.Connection) -> None:
        """Return free pages to the file system, converting an older file first if it is cheap.

        Skipped when closing: a VACUUM cannot stop halfway, and the next prune
        finds the free pages again.
        """
        if self._closed:
            return
        try:
            if not _rollup.enable_auto_vacuum(conn):
                log.info(
                    "telemetry store: %s predates auto-vacuum and was not converted (too"
                    " large to do quickly, or too little free disk); its free space is"
                    " reused, not given back",
                    self.path,
                )
            pages = _rollup.reclaim_free_pages(conn, stop=lambda: self._closed)
        except sqlite3.Error:
            log.exception("telemetry store: could not give free space back")
            return
        if pages:
            log.info("telemetry store: gave %d free pages back to the file system", pages)

    # -- reading (blocking: run in an executor) -----------------------------

    def recent(self, limit: int, before: str | None = None) -> list[RequestRecord]:
        """Up to `limit` records, newest first, older than the record `before` if given.

        Raises `KeyError` when `before` names no known record.
        """
        return [_codec.decode(stored) for stored in self._recent(limit, before)]

    def recent_json(self, limit: int, before: str | None = None) -> list[bytes]:
        """Like `recent`, but each record as its JSON bytes (`RequestRecord.to_json`)."""
        return [_codec.api_json(stored) for stored in self._recent(limit, before)]

    def iter_totals(
        self, *, minutes: int = 24 * 60
    ) -> Iterator[DayRollup | TotalsGroup | TotalsRow]:
        """The daily roll-ups, oldest first, then the stored records summed per minute
        (the newest `minutes`) or per hour: all `Stats` needs at start-up.

        SQLite does the adding up (`_rollup.sum_records`), so a large store
        costs a table scan and a few thousand groups, not a Python object per
        record. One read transaction on its own connection, so a prune running
        meanwhile is seen entirely or not at all; read block by block, so a
        large store is never held in memory at once.
        """
        conn = self._connect(read_only=True)
        try:
            conn.execute(f"PRAGMA cache_size = -{_SCAN_CACHE_KIB}")
            conn.execute("BEGIN")
            yield from _rollup.read_rollups(conn)
            yield from _rollup.sum_records(conn, minutes=minutes)
        finally:
            conn.close()

    def _recent(self, limit: int, before: str | None) -> list[bytes | str]:
        """The stored forms of up to `limit` records, newest first, committed or not."""
        if limit <= 0:
            return []
        pending, before_seq = self._newest_pending(limit, before)
        if before is not None and before_seq is None:
            row = self._read("SELECT seq FROM requests WHERE id = ?", (before,))
            if not row:
                raise KeyError(before)
            before_seq = int(row[0][0])
        merged: dict[str, tuple[int, bytes | str]] = {}
        for seq, rid, stored in self._query_recent(limit, before_seq):
            merged[rid] = (seq, stored)
        for item in pending:
            merged[item.id] = (item.seq, item.record)
        ordered = sorted(merged.values(), key=lambda pair: pair[0], reverse=True)
        return [value for _, value in ordered[:limit]]

    def _newest_pending(self, limit: int, before: str | None) -> tuple[list[_Row], int | None]:
        """The newest `limit` uncommitted records older than `before`, and its seq if pending.

        Taken before the database is read: a record missing from this snapshot
        was committed before it was taken, so the query that follows sees it.
        When `before` is already committed, so is every record older than it
        (batches commit in `seq` order), and the database alone answers.
        """
        with self._pending_lock:
            before_seq = None
            if before is not None:
                mark = self._pending.get(before)
                if mark is None:
                    return [], None
                before_seq = mark.seq
            newest: list[_Row] = []
            for item in reversed(self._pending.values()):  # seq order, see `add`
                if before_seq is None or item.seq < before_seq:
                    newest.append(item)
                    if len(newest) == limit:
                        break
            return newest, before_seq

    def _query_recent(
        self, limit: int, before_seq: int | None
    ) -> list[tuple[int, str, bytes | str]]:
        if before_seq is None:
            sql = "SELECT seq, id, record FROM requests ORDER BY seq DESC LIMIT ?"
            params: tuple[int, ...] = (limit,)
        else:
            sql = "SELECT seq, id, record FROM requests WHERE seq < ? ORDER BY seq DESC LIMIT ?"
            params = (before_seq, limit)
        return [(int(s), str(i), r) for s, i, r in self._read(sql, params)]

    def _read(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        with self._reader_lock:
            if self._reader is None:
                if self._closed or self._writer is None:
                    raise RuntimeError("telemetry store is not open (call start() first)")
                self._reader = self._connect(read_only=True, any_thread=True)
            return self._reader.execute(sql, params).fetchall()

    # -- plumbing -----------------------------------------------------------

    def _connect(self, *, read_only: bool = False, any_thread: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=5.0, isolation_level=None, check_same_thread=not any_thread
        )
        if read_only:
            conn.execute("PRAGMA query_only = ON")
        else:
            # Before WAL: switching a new file to WAL writes its header, after which
            # only a VACUUM can change the mode (an existing file keeps its own until then).
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer Orca Desktop (schema {version});"
                " upgrade, or move the file away"
            )
        if version < 1:
            conn.executescript(f"BEGIN; {_SCHEMA_V1} PRAGMA user_version = 1; COMMIT;")
        if version < 2:
            conn.executescript(f"BEGIN; {_rollup.SCHEMA_V2} PRAGMA user_version = 2; COMMIT;")
