"""The live table: events in, rows out — newest first, bounded, one block per change kind."""

from __future__ import annotations

import random
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QStyledItemDelegate, QVBoxLayout, QWidget

from orca_desktop.events import EventHub, Reset
from orca_desktop.gui._style import STYLE_SHEET
from orca_desktop.gui.feed import BUSY_EVENTS, BUSY_INTERVAL_MS, FLUSH_INTERVAL_MS, Feed
from orca_desktop.gui.request_table import COLUMN_KEYS, RequestTable, RequestTableModel
from orca_desktop.telemetry.live import LiveView
from orca_desktop.telemetry.record import RequestRecord
from tests.gui.factories import finished, make_record, received


def cell(model: RequestTableModel, row: int, key: str) -> str:
    value = model.data(model.index(row, COLUMN_KEYS.index(key)), Qt.ItemDataRole.DisplayRole)
    assert isinstance(value, str)
    return value


def make_model(maxlen: int = 500, snapshot: list[RequestRecord] | None = None) -> RequestTableModel:
    return RequestTableModel(lambda: LiveView(maxlen=maxlen), snapshot=lambda: snapshot or [])


def test_finished_events_become_rows_with_their_display_cells(qapp: Any) -> None:
    hub = EventHub()
    model = make_model()
    feed = Feed(hub, model)
    hub.publish(
        finished(
            make_record(
                id="r1",
                requested="auto",
                model="gpt-4o-mini",
                provider="openai",
                cost="0.000315",
                saved="0.004935",
            )
        )
    )
    hub.publish(
        finished(
            make_record(
                id="r2",
                requested="claude-sonnet-4-5",
                model=None,
                provider=None,
                status=424,
                error="no key for anthropic",
                cost=None,
                saved=None,
            )
        )
    )
    assert model.rowCount() == 0, "nothing is applied before the feed flushes"

    assert feed.flush() == 2

    assert model.rowCount() == 2
    assert cell(model, 1, "requested") == "auto"
    assert cell(model, 1, "model") == "gpt-4o-mini"
    assert cell(model, 1, "provider") == "openai"
    assert cell(model, 1, "byok") == "yes"
    assert cell(model, 1, "status") == "200"
    assert cell(model, 1, "cost") == "$0.00032"  # rounded to five decimals below one cent
    assert cell(model, 1, "saved") == "$0.00494"
    assert cell(model, 1, "overhead") == "0.84 ms"
    assert cell(model, 1, "tokens") == "1,200 / 225"
    assert cell(model, 0, "status") == "424 error"
    assert cell(model, 0, "model") == "—"
    assert (
        model.data(model.index(0, COLUMN_KEYS.index("status")), Qt.ItemDataRole.ToolTipRole)
        == "no key for anthropic"
    )


def test_rows_are_newest_first_and_bounded(qapp: Any) -> None:
    hub = EventHub()
    model = make_model(maxlen=5)
    feed = Feed(hub, model)
    for n in range(8):
        hub.publish(finished(make_record(id=f"r{n}")))
    feed.flush()
    assert [model.record(i).id for i in range(model.rowCount())] == ["r7", "r6", "r5", "r4", "r3"]
    for n in range(8, 10):
        hub.publish(finished(make_record(id=f"r{n}")))
    feed.flush()
    assert [model.record(i).id for i in range(model.rowCount())] == ["r9", "r8", "r7", "r6", "r5"]


def test_each_flush_emits_at_most_one_insert_remove_and_change_block(qapp: Any) -> None:
    hub = EventHub()
    model = make_model(maxlen=4)
    feed = Feed(hub, model)
    calls: dict[str, list[tuple[int, int]]] = {"insert": [], "remove": [], "changed": []}
    model.rowsInserted.connect(lambda _p, a, b: calls["insert"].append((a, b)))
    model.rowsRemoved.connect(lambda _p, a, b: calls["remove"].append((a, b)))
    model.dataChanged.connect(lambda tl, br, _r=None: calls["changed"].append((tl.row(), br.row())))
    first = [make_record(id=f"a{n}") for n in range(3)]
    for r in first:
        hub.publish(received(r))
    feed.flush()
    assert calls == {"insert": [(0, 2)], "remove": [], "changed": []}

    # one tick: two in-flight rows finish (a0, a2), three new requests push out the oldest rows
    for k in calls:
        calls[k].clear()
    hub.publish(finished(first[0]))
    hub.publish(finished(first[2]))
    for n in range(3):
        hub.publish(finished(make_record(id=f"b{n}")))
    feed.flush()

    assert calls["insert"] == [(0, 2)]
    assert calls["remove"] == [(1, 2)]  # a0 and a1 (the oldest) left the bottom
    assert calls["changed"] == [(3, 3)]  # a2 finished in place
    assert [model.record(i).id for i in range(4)] == ["b2", "b1", "b0", "a2"]
    assert cell(model, 3, "status") == "200"


def test_in_flight_row_finishes_in_place(qapp: Any) -> None:
    hub = EventHub()
    model = make_model()
    feed = Feed(hub, model)
    record = make_record(id="r1", model="fake-small", provider="mock")
    hub.publish(received(record))
    feed.flush()
    assert cell(model, 0, "status") == "in flight"
    assert cell(model, 0, "model") == "—"
    hub.publish(finished(record))
    feed.flush()
    assert model.rowCount() == 1
    assert cell(model, 0, "status") == "200"
    assert cell(model, 0, "model") == "fake-small"


def test_model_stays_consistent_while_batches_apply(qapp: Any, qtmodeltester: Any) -> None:
    hub = EventHub()
    model = make_model(maxlen=7)
    feed = Feed(hub, model)
    hub.publish(finished(make_record(id="seed")))
    feed.flush()
    # check() also stays connected: every later insert, remove and change is verified as it happens
    qtmodeltester.check(model, force_py=True)
    pending: list[RequestRecord] = []
    for tick in range(6):
        for n in range(tick + 1):
            r = make_record(id=f"t{tick}-{n}")
            hub.publish(received(r))
            pending.append(r)
        if tick % 2:
            for r in pending[:2]:
                hub.publish(finished(r))
            del pending[:2]
        feed.flush()
    assert model.rowCount() == 7
    assert model.rowCount(model.index(0, 0)) == 0  # a table: rows have no children
    assert not model.index(0, 0, model.index(0, 0)).isValid()
    assert model.columnCount(QModelIndex()) == len(COLUMN_KEYS)


def shown_x_over_a_snapshot() -> tuple[EventHub, RequestTableModel, Feed, list[bool]]:
    """A model whose snapshot is s2, s1, showing request x since one tick; `resets`
    collects its model resets from now on."""
    hub = EventHub()
    model = make_model(snapshot=[make_record(id="s2"), make_record(id="s1")])
    feed = Feed(hub, model)
    hub.publish(finished(make_record(id="x")))
    feed.flush()
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    return hub, model, feed, resets


def test_reset_replaces_rows_with_a_fresh_snapshot(qapp: Any) -> None:
    hub, model, feed, resets = shown_x_over_a_snapshot()
    hub.publish(Reset(at_ns=0))
    feed.flush()
    assert resets == [True]
    assert [model.record(i).id for i in range(model.rowCount())] == ["s2", "s1"]


def test_feed_that_overflowed_resets_instead_of_applying_a_partial_stream(qapp: Any) -> None:
    snapshot = [make_record(id="from-store")]
    hub = EventHub()
    model = make_model(snapshot=snapshot)
    feed = Feed(hub, model, maxlen=3)
    for n in range(5):
        hub.publish(finished(make_record(id=f"r{n}")))
    assert feed.pending == 3
    feed.flush()
    assert [model.record(i).id for i in range(model.rowCount())] == ["from-store"]


@pytest.mark.parametrize("visible", [True, False])
def test_feed_timer_runs_only_while_active(qapp: Any, visible: bool) -> None:
    hub = EventHub()
    model = make_model()
    feed = Feed(hub, model)
    hub.publish(finished(make_record(id="r1")))
    feed.set_active(visible)
    assert feed.active is visible
    assert model.rowCount() == (1 if visible else 0), "becoming active flushes at once"
    feed.set_active(False)
    assert not feed.active
    before = feed.pending
    feed.close()
    hub.publish(finished(make_record(id="r2")))
    assert feed.pending == before, "a closed feed no longer buffers"


def test_feed_ticks_slower_while_requests_pour_in_and_recovers(qapp: Any) -> None:
    hub = EventHub()
    model = make_model()
    feed = Feed(hub, model)
    assert feed.interval_ms == FLUSH_INTERVAL_MS
    for n in range(BUSY_EVENTS + 1):
        hub.publish(finished(make_record(id=f"r{n}")))
    feed.flush()
    assert feed.interval_ms == BUSY_INTERVAL_MS
    assert model.rowCount() == BUSY_EVENTS + 1, "a busy tick still applies everything"
    hub.publish(finished(make_record(id="calm")))
    feed.flush()
    assert feed.interval_ms == FLUSH_INTERVAL_MS


# -- painting -------------------------------------------------------------------------------


def _varied_records() -> list[RequestRecord]:
    """Newest first: every status colour, a negative saving, text too long for its column."""
    return [
        make_record(id="ok"),
        make_record(id="flight", status=0, model=None, provider=None, cost=None, saved=None),
        make_record(id="bad", status=502, error="upstream said 502", cost=None, saved=None),
        make_record(id="left", status=499, error="client disconnected"),
        make_record(id="dear", saved="-0.00042"),
        make_record(
            id="long",
            client="a-tool-with-a-name-far-too-long-for-its-column/1.2.3",
            requested="orcarouter/a-router-with-a-long-name",
        ),
        *[make_record(id=f"more{n}") for n in range(30)],
    ]


def _shown_table(qtbot: Any, model: RequestTableModel) -> tuple[QWidget, RequestTable]:
    """The table in a 1050 px wide frame styled like the window (the frame keeps it alive)."""
    frame = QWidget()
    frame.setStyleSheet(STYLE_SHEET)  # the window's colours: selection, alternate rows
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(0, 0, 0, 0)
    table = RequestTable(model)
    layout.addWidget(table)
    qtbot.addWidget(frame)
    frame.resize(1050, 320)
    frame.show()
    qtbot.waitExposed(frame)
    return frame, table


def _differing_pixels(a: QImage, b: QImage) -> int:
    assert a.size() == b.size()
    return sum(a.pixel(x, y) != b.pixel(x, y) for y in range(a.height()) for x in range(a.width()))


@pytest.mark.parametrize("scrolled", [False, True])
def test_cells_look_as_qts_own_delegate_draws_them(qtbot: Any, scrolled: bool) -> None:
    model = make_model()
    model.load_snapshot(_varied_records())
    _frame, table = _shown_table(qtbot, model)
    table.selectRow(2)
    if scrolled:
        table.horizontalScrollBar().setValue(table.horizontalScrollBar().maximum())
        table.verticalScrollBar().setValue(1)
    ours = table.viewport().grab().toImage()
    table.setItemDelegate(QStyledItemDelegate(table))
    qts = table.viewport().grab().toImage()

    assert _differing_pixels(ours, qts) <= 20, "same text, place, elision, colour and selection"
    colours = {QColor(ours.pixel(x, y)).name() for y in range(ours.height()) for x in range(40)}
    assert len(colours) > 10, "the rows were drawn (antialiased text, not a blank viewport)"


def test_a_repaint_draws_cells_without_asking_data_for_each_role(qtbot: Any) -> None:
    calls: list[int] = []

    class Counting(RequestTableModel):
        def data(self, index: Any, role: int = 0) -> Any:
            calls.append(role)
            return super().data(index, role)

    model = Counting(lambda: LiveView(maxlen=500))
    model.load_snapshot(_varied_records())
    _frame, table = _shown_table(qtbot, model)
    table.viewport().grab()
    calls.clear()
    table.viewport().grab()
    cells = table.viewport().height() // table.rowHeight(0) * len(COLUMN_KEYS)
    assert len(calls) <= 8, f"{len(calls)} data() calls for ~{cells} cells (Qt's delegate: 7 each)"
    table.setItemDelegate(QStyledItemDelegate(table))
    calls.clear()
    table.viewport().grab()
    assert len(calls) >= cells, "the count above is meaningful: Qt's delegate asks per cell"


# -- hidden table ---------------------------------------------------------------------------


def test_a_hidden_model_emits_nothing_and_catches_up_when_shown(
    qapp: Any, qtmodeltester: Any
) -> None:
    hub = EventHub()
    model = make_model(maxlen=6)
    reference = make_model(maxlen=6)  # applies every batch as it comes
    feed, reference_feed = Feed(hub, model), Feed(hub, reference)
    first = [make_record(id=f"a{n}") for n in range(4)]
    for r in first:
        hub.publish(received(r))
    feed.flush()
    reference_feed.flush()
    qtmodeltester.check(model, force_py=True)
    signals: list[str] = []
    model.rowsInserted.connect(lambda *_: signals.append("insert"))
    model.rowsRemoved.connect(lambda *_: signals.append("remove"))
    model.dataChanged.connect(lambda *_: signals.append("changed"))
    model.modelReset.connect(lambda: signals.append("reset"))
    touched: list[frozenset[str]] = []
    model.rows_changed.connect(touched.append)

    model.set_shown(False)
    hub.publish(finished(first[2]))  # finishes in place
    for n in range(3):  # three new rows push a0 out
        hub.publish(finished(make_record(id=f"b{n}")))
    feed.flush()
    reference_feed.flush()
    hub.publish(finished(make_record(id="c0")))  # a second hidden tick pushes a1 out
    feed.flush()
    reference_feed.flush()

    assert signals == [] and touched == []
    assert [model.record(i).id for i in range(model.rowCount())] == ["a3", "a2", "a1", "a0"]
    model.set_shown(True)
    assert signals == ["remove", "insert", "changed"]
    assert [model.record(i).id for i in range(6)] == ["c0", "b2", "b1", "b0", "a3", "a2"]
    for row in range(model.rowCount()):
        for key in COLUMN_KEYS:
            assert cell(model, row, key) == cell(reference, row, key)
    assert cell(model, 5, "status") == "200"
    assert touched == [frozenset({"c0", "b2", "b1", "b0", "a2"})]


def test_a_reset_while_hidden_waits_for_the_table_to_be_shown(qapp: Any) -> None:
    hub, model, feed, resets = shown_x_over_a_snapshot()
    model.set_shown(False)
    hub.publish(Reset(at_ns=0))
    hub.publish(finished(make_record(id="y")))
    feed.flush()
    assert resets == [] and model.record(0).id == "x"
    model.set_shown(True)
    assert resets == [True]
    assert [model.record(i).id for i in range(model.rowCount())] == ["s2", "s1"]


# -- one tick's batch -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(25))
def test_requests_that_arrive_and_finish_in_one_tick_land_as_applied_one_by_one(
    qapp: Any, seed: int
) -> None:
    """The model folds a request's arrival and finish into one row update: same rows, same order."""
    rng = random.Random(seed)
    hub = EventHub()
    model = make_model(maxlen=12)
    feed = Feed(hub, model)
    plain = LiveView(maxlen=12)
    open_: list[RequestRecord] = []
    for _tick in range(6):
        batch: list[Any] = []
        for _ in range(rng.randrange(1, 15)):
            if open_ and rng.random() < 0.5:
                r = open_.pop(rng.randrange(len(open_)))  # finishes out of order
                batch.append(finished(r))
            else:
                r = make_record(status=rng.choice([200, 200, 502]))
                open_.append(r)
                batch.append(received(r))
        if rng.random() < 0.3 and open_:
            batch.append(received(open_[0]))  # a duplicate arrival changes nothing
        for event in batch:
            hub.publish(event)
        feed.flush()
        plain.apply(batch)
        got = [model.record(i) for i in range(model.rowCount())]
        want = plain.rows()
        assert [r.id for r in got] == [r.id for r in want]
        assert [(r.status, r.model) for r in got] == [(r.status, r.model) for r in want]


def test_rows_about_to_leave_are_announced_before_qt_removes_them(qapp: Any) -> None:
    hub = EventHub()
    model = make_model(maxlen=4)
    feed = Feed(hub, model)
    for n in range(4):
        hub.publish(finished(make_record(id=f"r{n}")))
    feed.flush()
    log: list[object] = []
    model.rows_leaving.connect(lambda ids: log.append(("leaving", ids, model.rowCount())))
    model.rowsAboutToBeRemoved.connect(lambda _p, first, last: log.append(("qt", first, last)))

    for n in range(4, 7):
        hub.publish(finished(make_record(id=f"r{n}")))
    feed.flush()

    assert log == [("leaving", frozenset({"r0", "r1", "r2"}), 4), ("qt", 1, 3)]
