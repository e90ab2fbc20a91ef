"""The SQLite telemetry store: every request record, kept across restarts.

Owns the database file and the one thread that writes to it. `add` never
blocks and never touches SQLite: it only enqueues. A dedicated writer thread
turns the queue into batches, one transaction per batch. Reads (`recent`,
`recent_json`, `iter_totals`) are blocking calls on their own connection (WAL
lets them run beside the writer); callers on the event loop run them in an
executor, never on the loop itself.

Durability: `close` writes everything that was added. A crash loses at most
the batch being collected (the last `flush_interval_s`).
Reads see a record as soon as `add` returns, even before the writer has
committed it (read-your-writes), so a client that learnt an id from the live
feed can page with it at once.

Never holds prompt or completion text or a secret: it stores `RequestRecord`
JSON and nothing else.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from orca_desktop.telemetry.record import RequestRecord

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

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
    record       TEXT NOT NULL
);
CREATE INDEX requests_started_at ON requests (started_at);
"""

_INSERT = """
INSERT INTO requests (seq, id, started_at, status, cost_usd, savings_usd, overhead_ms, record)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    seq = excluded.seq, started_at = excluded.started_at, status = excluded.status,
    cost_usd = excluded.cost_usd, savings_usd = excluded.savings_usd,
    overhead_ms = excluded.overhead_ms, record = excluded.record
"""


@dataclass(frozen=True, slots=True)
class TotalsRow:
    """The few fields `Stats` needs from one stored record (money exact, as stored)."""

    started_at: str
    status: int
    cost_usd: Decimal | None
    savings_usd: Decimal | None
    overhead_ms: float | None


@dataclass(frozen=True, slots=True)
class _Pending:
    seq: int
    record: RequestRecord




class SqliteStore:
    """Request records in SQLite (WAL), written in batches by one writer thread.

    Invariants: only the writer thread writes; `add` never blocks; records
    are returned newest (most recently added) first; everything added before
    `close` is on disk after it.
    """

    def __init__(self, path: Path, *, flush_interval_s: float = 0.25) -> None:
        self.path = Path(path)
        self._flush_interval_s = flush_interval_s
        # Records added but not yet committed, for read-your-writes. Guarded by
        # `_pending_lock`, held only for dict operations (never during I/O).
        self._pending: dict[str, _Pending] = {}
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
        """Hand `record` to the writer. Never blocks; the record must not change afterwards."""
        if self._closed:
            log.warning("telemetry store is closed; record %s not stored", record.id)
            return
        if self._writer is None:
            raise RuntimeError("SqliteStore.add before start()")
        with self._pending_lock:
            item = _Pending(next(self._seq), record)
            # re-inserted, not updated in place, so the dict stays in seq order
            self._pending.pop(record.id, None)
            self._pending[record.id] = item
        if not self._work.is_set():  # wake the writer once per batch, not once per record
            self._work.set()

    def _run_writer(self, conn: sqlite3.Connection) -> None:
        """Sleep until there is work, let a batch gather, write everything pending.

        Records wait in `_pending` (which reads also see); there is no queue, so
        adding a record costs the loop a dict insert and, at most once a batch,
        a wake-up of this thread.
        """
        try:
            while True:
                self._work.wait()
                if not self._closed:
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
        finally:
            conn.close()

    def _write(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        rows = []
        for item in batch:
            try:
                rows.append(_row(item))
            except Exception:  # one unserialisable record must not stop the writer
                log.exception("telemetry store: cannot serialise record %s", item.record.id)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error:
            # Dropping the batch keeps memory bounded when the disk is full or
            # the file is broken; the gateway keeps serving either way.
            log.exception("telemetry store: could not write %d records", len(batch))
        with self._pending_lock:
            for item in batch:
                if self._pending.get(item.record.id) is item:
                    del self._pending[item.record.id]

    # -- reading (blocking: run in an executor) -----------------------------

    def recent(self, limit: int, before: str | None = None) -> list[RequestRecord]:
        """Up to `limit` records, newest first, older than the record `before` if given.

        Raises `KeyError` when `before` names no known record.
        """
        return [
            item if isinstance(item, RequestRecord) else RequestRecord.from_json(orjson.loads(item))
            for item in self._recent(limit, before)
        ]

    def recent_json(self, limit: int, before: str | None = None) -> list[bytes]:
        """Like `recent`, but each record as its JSON bytes (stored text, not re-encoded)."""
        return [
            orjson.dumps(item.to_json()) if isinstance(item, RequestRecord) else item
            for item in self._recent(limit, before)
        ]

    def iter_totals(self, chunk: int = 10_000) -> Iterator[TotalsRow]:
        """Every stored record's totals fields, oldest first, for `Stats` at start-up.

        Streams in chunks on its own connection, so a large store is never
        held in memory at once.
        """
        conn = self._connect(read_only=True)
        try:
            cur = conn.execute(
                "SELECT started_at, status, cost_usd, savings_usd, overhead_ms"
                " FROM requests ORDER BY seq"
            )
            while rows := cur.fetchmany(chunk):
                for started_at, status, cost, savings, overhead in rows:
                    yield TotalsRow(started_at, status, _dec(cost), _dec(savings), overhead)
        finally:
            conn.close()

    def _recent(self, limit: int, before: str | None) -> list[RequestRecord | bytes]:
        if limit <= 0:
            return []
        pending, before_seq = self._newest_pending(limit, before)
        if before is not None and before_seq is None:
            row = self._read("SELECT seq FROM requests WHERE id = ?", (before,))
            if not row:
                raise KeyError(before)
            before_seq = int(row[0][0])
        merged: dict[str, tuple[int, RequestRecord | bytes]] = {}
        for seq, rid, text in self._query_recent(limit, before_seq):
            merged[rid] = (seq, text.encode())
        for item in pending:
            merged[item.record.id] = (item.seq, item.record)
        ordered = sorted(merged.values(), key=lambda pair: pair[0], reverse=True)
        return [value for _, value in ordered[:limit]]

    def _newest_pending(self, limit: int, before: str | None) -> tuple[list[_Pending], int | None]:
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
            newest: list[_Pending] = []
            for item in reversed(self._pending.values()):  # seq order, see `add`
                if before_seq is None or item.seq < before_seq:
                    newest.append(item)
                    if len(newest) == limit:
                        break
            return newest, before_seq

    def _query_recent(self, limit: int, before_seq: int | None) -> list[tuple[int, str, str]]:
        if before_seq is None:
            sql = "SELECT seq, id, record FROM requests ORDER BY seq DESC LIMIT ?"
            params: tuple[int, ...] = (limit,)
        else:
            sql = "SELECT seq, id, record FROM requests WHERE seq < ? ORDER BY seq DESC LIMIT ?"
            params = (before_seq, limit)
        return [(int(s), str(i), str(r)) for s, i, r in self._read(sql, params)]

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
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
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


def _row(item: _Pending) -> tuple[object, ...]:
    record = item.record
    return (
        item.seq,
        record.id,
        record.started_at,
        record.status,
        None if record.cost_usd is None else str(record.cost_usd),
        None if record.savings_usd is None else str(record.savings_usd),
        record.overhead_ms,
        orjson.dumps(record.to_json()).decode(),
    )


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
