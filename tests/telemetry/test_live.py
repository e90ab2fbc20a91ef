"""LiveView: a bounded ring, newest first, reporting exactly what each batch changed."""

from __future__ import annotations

from datetime import UTC, datetime

from orca_desktop.events import (
    GatewayStateChanged,
    RequestFinished,
    RequestReceived,
    Reset,
)
from orca_desktop.telemetry.live import Change, LiveView
from orca_desktop.telemetry.record import RequestRecord

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def finished(rid: str, *, status: int = 200) -> RequestFinished:
    record = RequestRecord(
        id=rid, started_at=NOW.isoformat(), endpoint="/v1/chat/completions", status=status
    )
    return RequestFinished(request_id=rid, at_ns=0, record=record)


def received(rid: str) -> RequestReceived:
    return RequestReceived(
        request_id=rid, at_ns=0, endpoint="/v1/messages", requested_model="auto", client="curl"
    )


def ids(view: LiveView) -> list[str]:
    return [r.id for r in view.rows()]


def make_view(maxlen: int = 500) -> LiveView:
    return LiveView(maxlen, clock=lambda: NOW)


def test_finished_requests_appear_newest_first() -> None:
    view = make_view()
    change = view.apply([finished("a"), finished("b"), finished("c")])
    assert change == Change(new_ids=("c", "b", "a"))
    assert ids(view) == ["c", "b", "a"]
    assert view.get("b") is not None and view.get("b").status == 200  # type: ignore[union-attr]


def test_received_adds_an_in_flight_row_that_finished_replaces_in_place() -> None:
    view = make_view()
    assert view.apply([received("a"), received("b")]).new_ids == ("b", "a")
    row = view.get("a")
    assert row is not None
    assert (row.status, row.endpoint, row.requested_model, row.client) == (
        0,
        "/v1/messages",
        "auto",
        "curl",
    )
    assert row.started_at == NOW.isoformat()
    change = view.apply([finished("a", status=502), finished("c")])
    assert change == Change(new_ids=("c",), changed_ids=("a",))
    assert ids(view) == ["c", "b", "a"]
    assert view.get("a").status == 502  # type: ignore[union-attr]


def test_a_row_added_and_finished_in_one_batch_is_only_new() -> None:
    view = make_view()
    assert view.apply([received("a"), finished("a")]) == Change(new_ids=("a",))
    assert view.get("a").status == 200  # type: ignore[union-attr]


def test_ring_is_bounded_and_evicts_the_oldest() -> None:
    view = make_view(maxlen=3)
    view.apply([finished("a"), finished("b")])
    change = view.apply([finished("c"), finished("d"), finished("e")])
    assert change == Change(new_ids=("e", "d", "c"), evicted=2)
    assert ids(view) == ["e", "d", "c"]
    assert len(view) == 3


def test_rows_added_and_evicted_in_one_batch_are_not_reported() -> None:
    view = make_view(maxlen=2)
    view.apply([finished("a")])
    change = view.apply([finished("b"), finished("c"), finished("d")])
    assert change == Change(new_ids=("d", "c"), evicted=1)
    assert ids(view) == ["d", "c"]


def test_change_describes_the_transition_from_old_rows_to_new_rows() -> None:
    view = make_view(maxlen=4)
    view.apply([received("a"), finished("b"), received("c")])
    old = ids(view)
    change = view.apply([finished("a"), finished("d"), received("e"), finished("c")])
    kept = old[: len(old) - change.evicted]
    assert ids(view) == list(change.new_ids) + kept
    assert set(change.changed_ids) == {"c"}  # "a" was evicted, so it is not reported


def test_reset_is_reported_and_other_events_are_ignored() -> None:
    view = make_view()
    state = GatewayStateChanged(at_ns=0, state="running", base_url="http://127.0.0.1:8787/v1")
    assert view.apply([state]) == Change()
    assert not view.apply([state])
    assert view.apply([Reset(at_ns=0), finished("x")]) == Change(new_ids=("x",), reset=True)


def test_load_replaces_every_row_from_a_snapshot() -> None:
    view = make_view(maxlen=2)
    view.apply([finished("old")])
    view.load([finished(i).record for i in ("z", "y", "x")])  # newest first, one too many
    assert ids(view) == ["z", "y"]


def _traffic(n: int) -> list[RequestReceived | RequestFinished]:
    """n requests, each received then (after the next one arrived) finished."""
    events: list[RequestReceived | RequestFinished] = []
    for i in range(n):
        events.append(received(f"r{i}"))
        if i:
            events.append(finished(f"r{i - 1}", status=200 + i % 3))
    return events


def test_noted_events_show_on_the_next_read_as_if_applied() -> None:
    applied, noted = make_view(50), make_view(50)
    events = _traffic(30)
    applied.apply(events)
    for event in events:
        noted.note(event)
    assert noted.rows() == applied.rows()
    assert len(noted) == len(applied) and noted.get("r3") == applied.get("r3")


def test_many_noted_events_keep_the_ring_bounded_and_in_order() -> None:
    """More events than the note queue holds: it applies in batches on its own."""
    applied, noted = make_view(20), make_view(20)
    events = _traffic(500)
    applied.apply(events)
    for event in events:
        noted.note(event)
    assert len(noted._noted) < 4 * 20
    assert noted.rows() == applied.rows()
    assert ids(noted)[:3] == ["r499", "r498", "r497"]


def test_apply_after_notes_keeps_the_order_of_events() -> None:
    view = make_view()
    view.note(received("a"))
    change = view.apply([finished("a", status=503)])
    assert change == Change(changed_ids=("a",))
    assert view.get("a").status == 503  # type: ignore[union-attr]


def test_a_request_arriving_and_finishing_in_one_batch_is_added_once_finished() -> None:
    """No in-flight row is built for a request whose finish is in the same batch (under
    load, nearly every request): the clock is only read for an in-flight row."""
    reads: list[None] = []

    def clock() -> datetime:
        reads.append(None)
        return NOW

    view = LiveView(10, clock=clock)
    change = view.apply(
        [received("a"), received("b"), received("c"), finished("b"), finished("a", status=502)]
    )
    assert change == Change(new_ids=("c", "b", "a"))
    assert ids(view) == ["c", "b", "a"]  # in arrival order, as if applied one by one
    assert [r.status for r in view.rows()] == [0, 200, 502]
    assert len(reads) == 1  # only "c", still in flight


def test_the_last_finish_of_a_request_in_a_batch_wins() -> None:
    view = make_view()
    view.apply([received("old")])
    change = view.apply(
        [
            received("a"),
            finished("a", status=500),
            finished("old", status=429),
            finished("a", status=200),
            finished("old", status=201),
        ]
    )
    assert change == Change(new_ids=("a",), changed_ids=("old",))
    assert [(r.id, r.status) for r in view.rows()] == [("a", 200), ("old", 201)]
