"""SqliteStore: records written by its thread, read back newest first, kept across restarts."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from orca_desktop.telemetry import _codec
from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord
from orca_desktop.telemetry.store import SCHEMA_VERSION, SqliteStore
from orca_desktop.telemetry.totals import TotalsGroup


def make_record(
    n: int = 0,
    *,
    started_at: str = "2025-06-01T12:00:00+00:00",
    status: int = 200,
    cost_usd: str | None = "0.000123",
    savings_usd: str | None = "0.0042",
    overhead_ms: float | None = 1.5,
) -> RequestRecord:
    return RequestRecord(
        id=f"req-{n:04d}-zz" if n % 2 else f"req-{n:04d}-aa",  # ids carry no order
        started_at=started_at,
        endpoint="/v1/chat/completions",
        client="aider",
        requested_model="auto",
        router="auto",
        strategy="cheapest",
        reason="cheapest capable",
        provider="openai",
        model="gpt-4o-mini",
        byok=True,
        status=status,
        candidates=[CandidateView("gpt-4o-mini", "openai", Decimal("0.0001"), None)],
        attempts=[Attempt("gpt-4o-mini", "openai", status, None, 12.5)],
        prompt_tokens=100,
        completion_tokens=20,
        cost_usd=None if cost_usd is None else Decimal(cost_usd),
        reference_model="gpt-4o",
        savings_usd=None if savings_usd is None else Decimal(savings_usd),
        overhead_ms=overhead_ms,
        duration_ms=80.0,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "telemetry.sqlite3"


def test_records_read_back_equal_newest_first(db_path: Path) -> None:
    records = [make_record(i) for i in range(5)]
    with SqliteStore(db_path, flush_interval_s=0.01) as store:
        for r in records:
            store.add(r)
        got = store.recent(10)
    assert got == list(reversed(records))


def test_records_survive_close_and_reopen(db_path: Path) -> None:
    records = [make_record(i) for i in range(3)]
    with SqliteStore(db_path) as store:
        for r in records:
            store.add(r)
    with SqliteStore(db_path) as store:
        assert store.recent(10) == list(reversed(records))
        store.add(make_record(99))
        assert [r.id for r in store.recent(2)] == [make_record(99).id, records[-1].id]


def test_close_writes_every_record_of_a_large_burst(db_path: Path) -> None:
    store = SqliteStore(db_path, flush_interval_s=5.0)
    store.start()
    for i in range(2000):
        store.add(make_record(i))
    store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 2000
    conn.close()


def test_records_are_readable_before_the_writer_commits(db_path: Path) -> None:
    with SqliteStore(db_path, flush_interval_s=3600) as store:
        store.add(make_record(1))
        store.add(make_record(2))
        assert [r.id for r in store.recent(5)] == [make_record(2).id, make_record(1).id]
        assert [r.id for r in store.recent(5, before=make_record(2).id)] == [make_record(1).id]


def test_paging_with_before_walks_all_records_once(db_path: Path) -> None:
    records = [make_record(i) for i in range(23)]
    with SqliteStore(db_path, flush_interval_s=0.01) as store:
        for r in records[:15]:
            store.add(r)
    with SqliteStore(db_path, flush_interval_s=3600) as store:
        for r in records[15:]:  # some committed, some still pending
            store.add(r)
        seen: list[str] = []
        before: str | None = None
        while page := store.recent(5, before=before):
            assert len(page) <= 5
            seen += [r.id for r in page]
            before = page[-1].id
    assert seen == [r.id for r in reversed(records)]


def test_unknown_before_is_a_key_error(db_path: Path) -> None:
    with SqliteStore(db_path) as store, pytest.raises(KeyError):
        store.recent(5, before="nope")


def test_recent_json_is_the_record_json(db_path: Path) -> None:
    with SqliteStore(db_path, flush_interval_s=0.01) as store:
        store.add(make_record(1))
        pending = store.recent_json(1)
    with SqliteStore(db_path) as store:
        stored = store.recent_json(1)
    assert orjson.loads(pending[0]) == orjson.loads(stored[0]) == make_record(1).to_json()


def test_database_is_in_wal_mode_with_incremental_auto_vacuum_and_a_schema_version(
    db_path: Path,
) -> None:
    with SqliteStore(db_path):
        pass
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental, from the start
    finally:
        conn.close()


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        SqliteStore(db_path).start()


def test_totals_keep_money_exact(db_path: Path) -> None:
    with SqliteStore(db_path) as store:
        store.add(make_record(1, cost_usd="0.000000123456789012345", savings_usd=None))
        store.add(make_record(2, cost_usd="1E-30", savings_usd="-0.5", status=502))
    with SqliteStore(db_path) as store:
        (group,) = list(store.iter_totals())  # both started at the same time
    assert isinstance(group, TotalsGroup)
    assert group.cost_usd == Decimal("0.000000123456789012345000000001")
    assert group.savings_usd == Decimal("-0.5")  # a NULL adds nothing
    assert (group.requests, group.errors, group.overhead_count) == (2, 1, 2)


def test_add_after_close_is_ignored(db_path: Path) -> None:
    store = SqliteStore(db_path)
    store.start()
    store.close()
    store.add(make_record(1))  # logs, does not raise
    with SqliteStore(db_path) as reopened:
        assert reopened.recent(5) == []


def test_a_record_added_again_replaces_the_old_one_at_the_top(db_path: Path) -> None:
    with SqliteStore(db_path, flush_interval_s=0.01) as store:
        store.add(make_record(1, status=0))
        store.add(make_record(2))
        store.add(make_record(1, status=502))
        assert [(r.id, r.status) for r in store.recent(5)] == [
            (make_record(1).id, 502),
            (make_record(2).id, 200),
        ]
    with SqliteStore(db_path) as store:
        assert [(r.id, r.status) for r in store.recent(5)] == [
            (make_record(1).id, 502),
            (make_record(2).id, 200),
        ]


def test_an_unserialisable_record_does_not_stop_the_writer(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = make_record(1)
    bad.client = object()  # type: ignore[assignment]
    with SqliteStore(db_path, flush_interval_s=0.01) as store:
        store.add(bad)
        store.add(make_record(2))
    with SqliteStore(db_path) as store:
        assert [r.id for r in store.recent(5)] == [make_record(2).id]
    assert "cannot serialise record" in caplog.text


def test_add_before_start_is_a_programming_error(db_path: Path) -> None:
    with pytest.raises(RuntimeError, match="start"):
        SqliteStore(db_path).add(make_record(1))


def test_every_field_of_a_record_is_stored_exactly(db_path: Path) -> None:
    record = RequestRecord(
        id="req-full",
        started_at="2025-06-01T12:00:00.123Z",
        endpoint="/v1/messages",
        client="claude-code",
        requested_model="orcarouter/cheap",
        router="cheap",
        strategy="fallback",
        reason='first reachable: é ✓ "quoted"',
        provider="anthropic",
        model="claude-haiku",
        byok=False,
        status=502,
        error="upstream said no",
        stream=True,
        candidates=[
            CandidateView("a", "p", Decimal("0.000000123456789012345678"), None),
            CandidateView("b", "q", None, "lacks tools"),
        ],
        attempts=[
            Attempt("a", "p", 429, "rate limited", 12.3456789),
            Attempt("b", "q", 0, None, 0.1),
        ],
        prompt_tokens=1,
        completion_tokens=2,
        cached_tokens=3,
        reasoning_tokens=4,
        cost_usd=Decimal("1E-30"),
        reference_model="gpt-4o",
        reference_cost_usd=Decimal("12345678901234567890.123456789"),
        savings_usd=Decimal("-0.5"),
        overhead_ms=0.123456789,
        upstream_ms=1e-9,
        ttft_ms=123456.789012,
        duration_ms=98765.4321,
        dropped=["top_k", "thinking", "é ✓"],
        cache_write_tokens=5,
    )
    with SqliteStore(db_path) as store:
        store.add(record)
        assert store.recent(1) == [record]  # still pending
    with SqliteStore(db_path) as store:
        assert store.recent(1) == [record]  # from the file
        assert orjson.loads(store.recent_json(1)[0]) == orjson.loads(orjson.dumps(record.to_json()))


def test_the_stored_form_names_every_record_field_in_order() -> None:
    # A field added to RequestRecord must be appended to the stored form too.
    assert _codec.STORED_FIELDS == tuple(RequestRecord.__dataclass_fields__)


# The database as Orca Desktop wrote it before schema 2 (records as to_json text).
_SCHEMA_1 = """
CREATE TABLE requests (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, started_at TEXT NOT NULL,
    status INTEGER NOT NULL, cost_usd TEXT, savings_usd TEXT, overhead_ms REAL,
    record TEXT NOT NULL
);
CREATE INDEX requests_started_at ON requests (started_at);
PRAGMA user_version = 1;
"""


def write_schema_1_database(path: Path, records: list[RequestRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_1)
    conn.executemany(
        "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                seq,
                r.id,
                r.started_at,
                r.status,
                None if r.cost_usd is None else str(r.cost_usd),
                None if r.savings_usd is None else str(r.savings_usd),
                r.overhead_ms,
                orjson.dumps(r.to_json()).decode(),
            )
            for seq, r in enumerate(records, start=1)
        ],
    )
    conn.commit()
    conn.close()


def test_a_schema_1_database_is_read_and_extended(db_path: Path) -> None:
    yesterday = [make_record(i) for i in range(4)]
    write_schema_1_database(db_path, yesterday)
    today = [make_record(i) for i in range(4, 7)]
    with SqliteStore(db_path) as store:
        for r in today:
            store.add(r)
    with SqliteStore(db_path) as store:
        everything = list(reversed(yesterday + today))
        assert store.recent(10) == everything
        assert [orjson.loads(b) for b in store.recent_json(10)] == [r.to_json() for r in everything]
        assert [r.id for r in store.recent(3, before=today[0].id)] == [
            r.id for r in reversed(yesterday[1:])
        ]
        groups = [g for g in store.iter_totals() if isinstance(g, TotalsGroup)]
        assert sum(g.requests for g in groups) == 7
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM daily_totals").fetchone()[0] == 0
    finally:
        conn.close()


def test_rows_written_before_dropped_and_cache_writes_read_them_as_unknown(
    db_path: Path,
) -> None:
    """Schema-1 text and schema-2 arrays from before the two fields, beside rows that have them."""
    text_row, array_row = make_record(1), make_record(2)
    old_json = text_row.to_json()
    del old_json["dropped"], old_json["cache_write_tokens"]
    write_schema_1_database(db_path, [text_row])
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE requests SET record = ?", (orjson.dumps(old_json).decode(),))
    conn.commit()
    conn.close()
    new = make_record(3)
    new.dropped, new.cache_write_tokens = ["top_k"], 1200
    with SqliteStore(db_path, flush_interval_s=0.01) as store:
        store.add(array_row)
        store.add(new)
    stored = _codec.encode(array_row)
    short = orjson.dumps(orjson.loads(stored)[: _codec.STORED_FIELDS.index("dropped")])
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE requests SET record = ? WHERE id = ?", (short, array_row.id))
    conn.commit()
    conn.close()
    with SqliteStore(db_path) as store:
        assert store.recent(10) == [new, array_row, text_row]
        got = [orjson.loads(b) for b in store.recent_json(10)]
    assert got == [r.to_json() for r in (new, array_row, text_row)]
    assert [(g["dropped"], g["cache_write_tokens"]) for g in got] == [
        (["top_k"], 1200),
        ([], None),
        ([], None),
    ]


def test_recent_json_is_what_the_records_json_was_for_every_kind_of_row(db_path: Path) -> None:
    # schema-1 rows, committed schema-2 rows and pending ones, with None fields,
    # unicode, long money and several candidates and attempts
    bare = RequestRecord(id="req-bare", started_at="2025-06-01T00:00:00Z", endpoint="/v1/models")
    odd = make_record(7, cost_usd="1E-30", savings_usd="-0.1234567890123456789", overhead_ms=None)
    odd.reason, odd.error = 'écrit ✓ "quoted" \n 日本', "upstream: ünïcode"
    odd.candidates.append(CandidateView("b", "q", None, "lacks tools ✗"))
    odd.attempts.append(Attempt("b", "q", 0, None, 0.1234567))
    old = [make_record(i) for i in range(3)] + [bare]
    write_schema_1_database(db_path, old)
    committed = [odd, make_record(4, cost_usd=None, savings_usd=None)]
    pending = [make_record(5, savings_usd="-0.5"), make_record(6, overhead_ms=0.1 + 0.2)]
    with SqliteStore(db_path, flush_interval_s=0.01) as store:
        for r in committed:
            store.add(r)
    with SqliteStore(db_path, flush_interval_s=3600) as store:
        for r in pending:
            store.add(r)
        got = store.recent_json(10)
        paged = store.recent_json(3, before=committed[-1].id)
    expected = [orjson.dumps(r.to_json()) for r in reversed(old + committed + pending)]
    assert got == expected  # byte for byte, not just equal once parsed
    assert paged == expected[3:6]
