"""The main window over the real core: live rows, the decision pane, totals, first run, demo."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from orca_desktop.gui import _format as fmt
from orca_desktop.gui.request_table import COLUMN_KEYS
from orca_desktop.gui.window import MainWindow
from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord
from tests.gui.conftest import GuiCore, until
from tests.gui.factories import finished, make_record, received


def cell(window: MainWindow, row: int, key: str) -> str:
    model = window.model
    return str(model.data(model.index(row, COLUMN_KEYS.index(key)), Qt.ItemDataRole.DisplayRole))


def open_window(qtbot: Any, gc: GuiCore) -> MainWindow:
    window = MainWindow(gc.core)
    qtbot.addWidget(window)
    return window


def test_a_real_request_appears_as_a_row_and_its_decision_in_the_pane(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    reply = gc.run(gc.chat("auto"))
    assert reply["status"] == 200, reply

    window.feed.flush()

    assert window.model.rowCount() == 1
    assert cell(window, 0, "requested") == "auto"
    assert cell(window, 0, "model") == "fake-small"
    assert cell(window, 0, "provider") == "mock"
    assert cell(window, 0, "status") == "200"
    assert cell(window, 0, "cost").startswith("$")
    assert cell(window, 0, "saved").startswith("$")
    window.live_page.select_row(0)
    pane = window.live_page.pane.toPlainText()
    assert "fake-small" in pane and "fake-large" in pane  # both candidates, with estimates
    assert "auto/cheapest" in pane
    assert "served" in pane
    assert "ATTEMPTS" in pane and "mock" in pane


def test_selecting_a_row_shows_candidates_exclusions_and_attempts(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    record = make_record(
        id="r-fallback",
        requested="orcarouter/cheap",
        model="gpt-4o",
        provider="openai",
        candidates=[
            CandidateView(
                "claude-haiku-4-5", "anthropic", Decimal("0.00204"), excluded="no key for anthropic"
            ),
            CandidateView("gpt-4o-mini", "openai", Decimal("0.000315")),
            CandidateView("gpt-4o", "openai", Decimal("0.00525")),
        ],
        attempts=[
            Attempt("gpt-4o-mini", "openai", 429, "rate limited by openai", 88.0),
            Attempt("gpt-4o", "openai", 200, None, 612.0),
        ],
    )
    gc.core.hub.publish(finished(record))
    gc.core.hub.publish(finished(make_record(id="other")))
    window.feed.flush()

    window.live_page.select_row(window.model.row_of("r-fallback") or 0)

    pane = window.live_page.pane.toPlainText()
    assert "orcarouter/cheap" in pane
    assert "excluded: no key for anthropic" in pane
    assert "$0.00204" in pane
    assert "rate limited by openai" in pane and "429" in pane
    assert "612 ms" in pane and "88.0 ms" in pane
    assert "Reference cost" in pane and "(gpt-4o)" in pane
    assert "Gateway overhead" in pane and "0.84 ms" in pane
    assert "Time to first token" in pane


def test_pane_follows_its_row_from_in_flight_to_finished(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    record = pick_in_flight(gc, window, "r1")
    assert "in flight" in window.live_page.pane.toPlainText()

    gc.core.hub.publish(finished(make_record(id="newer")))
    gc.core.hub.publish(finished(record))
    window.feed.flush()

    pane = window.live_page.pane.toPlainText()
    assert "in flight" not in pane
    assert "fake-large" in pane and "via mock" in pane


def test_totals_strip_shows_todays_numbers_from_stats(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    for _ in range(3):
        assert gc.run(gc.chat("auto"))["status"] == 200
    window.feed.flush()
    totals = window.live_page.totals
    totals.tick()

    today = gc.core.stats()["today"]
    assert today["requests"] == 3
    assert totals.cards["requests"].value.text() == "3"
    assert totals.cards["spend"].value.text() == fmt.money(Decimal(str(today["cost_usd"])))
    assert totals.cards["savings"].value.text() == fmt.money(Decimal(str(today["savings_usd"])))
    assert totals.cards["overhead"].value.text() == fmt.ms(today["overhead_ms_p50"])
    assert totals.cards["requests"].sub.text() == "all time 3"
    assert totals.cards["spend"].value.text() != "$0"


def test_first_run_without_keys_says_what_to_do_and_offers_demo(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core(mock_key=False)
    assert all(p.state in ("missing", "local") for p in gc.core.provider_states())
    window = open_window(qtbot, gc)
    window.show()
    welcome = window.live_page.welcome
    assert welcome.isVisible()
    text = welcome.findChildren(type(welcome.hint))
    shown = " ".join(label.text() for label in text)
    assert "orca-desktop keys set openai" in shown
    assert "Keys" in shown
    assert "Demo mode" in shown
    assert welcome.demo_button.isEnabled()
    restarts: list[bool] = []
    gc.core.restart_in_demo = lambda: restarts.append(True)  # what app.py's desktop_main hooks in

    async def click_demo() -> None:
        qtbot.mouseClick(welcome.demo_button, Qt.MouseButton.LeftButton)
        await until(lambda: restarts, what="the core to be asked for demo mode")

    gc.run(click_demo())
    assert restarts == [True]

    qtbot.mouseClick(welcome.keys_button, Qt.MouseButton.LeftButton)
    assert window.current_page() == "Keys"


def test_with_a_key_there_is_no_first_run_panel(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    window.show()
    assert not window.live_page.welcome.isVisible()
    assert "DEMO" not in window.windowTitle()


def test_demo_mode_is_labelled_in_title_banner_and_status(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core(mock_key=False, demo=True)
    window = open_window(qtbot, gc)
    window.show()
    assert window.windowTitle() == "Orca Desktop — DEMO"
    assert window.demo_banner.isVisible()
    assert "DEMO" in window.demo_banner.label.text()
    assert "DEMO" in window.status_label.text()
    assert not window.live_page.welcome.isVisible()


def test_feed_drains_only_while_the_window_is_visible(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    assert not window.feed.active
    window.show()
    qtbot.waitExposed(window)
    assert window.feed.active
    gc.core.hub.publish(finished(make_record(id="live")))
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=2000)
    window.hide()
    assert not window.feed.active


def test_the_table_waits_while_another_page_is_shown_and_catches_up_on_return(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    window.show()
    qtbot.waitExposed(window)
    assert gc.run(gc.chat("auto"))["status"] == 200
    window.feed.flush()
    assert window.model.rowCount() == 1
    window.show_page("Keys")
    inserted: list[int] = []
    window.model.rowsInserted.connect(lambda _p, first, last: inserted.append(last - first + 1))

    for _ in range(2):
        assert gc.run(gc.chat("orcarouter/cheap"))["status"] == 200
    window.feed.flush()

    assert inserted == [] and window.model.rowCount() == 1, "no table work while it is not seen"
    totals = window.live_page.totals
    totals.tick()
    assert totals.cards["requests"].value.text() == "3", "the totals strip keeps counting"
    window.show_page("Live")
    assert inserted == [2], "one insert block, at once"
    assert [cell(window, row, "requested") for row in range(3)] == [
        "orcarouter/cheap",
        "orcarouter/cheap",
        "auto",
    ]
    assert cell(window, 0, "status") == "200" and cell(window, 0, "model") == "fake-small"


def test_a_minimized_window_leaves_the_table_alone_until_restored(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    window.show()
    qtbot.waitExposed(window)
    window.showMinimized()
    qtbot.waitUntil(lambda: window.isMinimized() and not window.model.shown, timeout=2000)
    gc.core.hub.publish(finished(make_record(id="while-minimized")))
    window.feed.flush()
    assert window.model.rowCount() == 0
    window.showNormal()
    qtbot.waitUntil(lambda: window.model.shown, timeout=2000)
    assert window.model.rowCount() == 1
    assert window.model.record(0).id == "while-minimized"


def test_at_the_default_size_every_column_fits_without_a_horizontal_scroll_bar(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = open_window(qtbot, gc)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    for n in range(40):
        gc.core.hub.publish(finished(make_record(id=f"r{n}")))
    window.feed.flush()
    table = window.live_page.table
    qtbot.waitUntil(lambda: table.verticalScrollBar().isVisible(), timeout=2000)
    QApplication.processEvents()
    assert table.horizontalHeader().length() <= table.viewport().width()
    assert not table.horizontalScrollBar().isVisible()


def count_renders(pane: Any) -> list[str]:
    """Every HTML the pane is given from now on (one entry per render)."""
    renders: list[str] = []
    set_html = pane.setHtml

    def counting(html: str) -> None:
        renders.append(html)
        set_html(html)

    pane.setHtml = counting
    return renders


def selected_rows(window: MainWindow) -> list[int]:
    return [index.row() for index in window.live_page.table.selectionModel().selectedRows()]


def arrive(gc: GuiCore, window: MainWindow, *records: RequestRecord) -> None:
    """One feed tick in which `records` finished."""
    for record in records:
        gc.core.hub.publish(finished(record))
    window.feed.flush()


def pick_in_flight(gc: GuiCore, window: MainWindow, rid: str) -> RequestRecord:
    """A request arrives (still in flight, at the top) and the user picks its row;
    returns its finished record, for `finished(...)` later."""
    record = make_record(id=rid, model="fake-large", provider="mock")
    gc.core.hub.publish(received(record))
    window.feed.flush()
    window.live_page.select_row(0)
    return record


def small_window(qtbot: Any, gc: GuiCore, rows: int = 5) -> MainWindow:
    from orca_desktop.telemetry.live import LiveView

    window = MainWindow(gc.core, live_factory=lambda: LiveView(maxlen=rows))
    qtbot.addWidget(window)
    return window


def test_the_picked_row_stays_selected_and_the_pane_still_as_rows_arrive_above_it(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = small_window(qtbot, gc, rows=10)
    gc.core.hub.publish(finished(make_record(id="picked", model="fake-large")))
    window.feed.flush()
    window.live_page.select_row(0)
    renders = count_renders(window.live_page.pane)

    for tick in range(3):
        arrive(gc, window, make_record(id=f"new{tick}"))

    assert window.model.row_of("picked") == 3
    assert selected_rows(window) == [3], "the picked row moved down and is still the selection"
    assert window.live_page.pane.record_id == "picked"
    assert renders == [], "nothing about the picked request changed"


def test_when_the_picked_row_leaves_the_table_the_pane_keeps_it_and_nothing_is_selected(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = small_window(qtbot, gc, rows=5)
    for n in range(5):
        gc.core.hub.publish(finished(make_record(id=f"old{n}")))
    gc.core.hub.publish(finished(make_record(id="picked", model="fake-large", provider="mock")))
    window.feed.flush()
    window.live_page.select_row(window.model.row_of("picked") or 0)
    assert "fake-large" in window.live_page.pane.toPlainText()
    renders = count_renders(window.live_page.pane)

    ticks = 12  # two new rows a tick: the picked row leaves on the third
    for tick in range(ticks):
        arrive(gc, window, *(make_record(id=f"t{tick}-{n}", model="gpt-4o-mini") for n in range(2)))

    assert window.model.row_of("picked") is None
    assert selected_rows(window) == [], "no other row silently becomes the selection"
    assert not window.live_page.table.selectionModel().currentIndex().isValid()
    pane = window.live_page.pane
    assert pane.record_id == "picked"
    text = pane.toPlainText()
    assert "picked" in text and "fake-large" in text and "via mock" in text
    assert not [rid for rid in (f"t{t}-{n}" for t in range(ticks) for n in range(2)) if rid in text]
    assert "No longer in the live table" in text
    assert len(renders) <= 1, f"the pane rendered {len(renders)} times in {ticks} ticks"

    table = window.live_page.table
    qtbot.keyClick(table, Qt.Key.Key_Down)  # the keyboard picks another row: the pane follows
    assert selected_rows(window) == [0]
    assert pane.record_id == window.model.record(0).id
    assert "No longer in the live table" not in pane.toPlainText()


def test_a_picked_in_flight_request_that_finishes_renders_the_pane_once(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = small_window(qtbot, gc, rows=10)
    record = pick_in_flight(gc, window, "r1")
    renders = count_renders(window.live_page.pane)

    for tick in range(3):
        arrive(gc, window, make_record(id=f"before{tick}"))
    assert renders == []
    gc.core.hub.publish(finished(record))
    window.feed.flush()
    for tick in range(3):
        arrive(gc, window, make_record(id=f"after{tick}"))

    assert len(renders) == 1
    pane = window.live_page.pane.toPlainText()
    assert "in flight" not in pane and "fake-large" in pane and "via mock" in pane
    assert selected_rows(window) == [window.model.row_of("r1")]


def test_a_picked_in_flight_request_pushed_out_then_finished_comes_back_to_the_pane(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    window = small_window(qtbot, gc, rows=3)
    record = pick_in_flight(gc, window, "slow")
    pane = window.live_page.pane
    renders = count_renders(pane)

    for tick in range(6):
        arrive(gc, window, make_record(id=f"fast{tick}"))
    assert window.model.row_of("slow") is None and selected_rows(window) == []
    assert pane.record_id == "slow" and "in flight" in pane.toPlainText()
    assert len(renders) == 1, "once, to say it left the table"

    gc.core.hub.publish(finished(record))
    window.feed.flush()

    assert len(renders) == 2, "once more, as it finished"
    text = pane.toPlainText()
    assert "in flight" not in text and "fake-large" in text and "via mock" in text
    assert "No longer in the live table" not in text
    assert selected_rows(window) == [0], "back in the table, it is the selection again"
