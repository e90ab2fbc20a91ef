"""The main window: a sidebar of pages; the Live page is totals + request table + decision pane.

The window owns the GUI's read model (`RequestTableModel` over its own
`LiveView`, seeded from the core's snapshot) and the `Feed` that drains hub
events into it — only while the window is visible. While the table cannot be
seen (another page is current, or the window is minimized) the model only keeps
its LiveView current, and the table catches up when it is shown again. The
decision pane stays on the request the user picked (by id): it redraws only when
that record changes, and when newer rows push it out of the table the selection
is cleared instead of moving to a neighbour, and the pane keeps it with a note. The
totals strip and the tray tooltip keep their own once-a-second timers. Demo mode
is labelled in the title and in a banner. Closing the window hides it when a
tray icon exists; without a tray it quits through `on_close`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QCloseEvent, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from orca_desktop.events import Event, GatewayStateChanged, KeyStatusChanged
from orca_desktop.gui._core import CoreLike, LiveViewLike, has_usable_provider, openai_base_url
from orca_desktop.gui._style import STYLE_SHEET
from orca_desktop.gui.decision_pane import DecisionPane
from orca_desktop.gui.feed import Feed
from orca_desktop.gui.icons import state_icon
from orca_desktop.gui.pages.connect import ConnectPage
from orca_desktop.gui.pages.keys import KeysPage
from orca_desktop.gui.pages.routers import RoutersPage
from orca_desktop.gui.pages.settings import SettingsPage
from orca_desktop.gui.request_table import RequestTable, RequestTableModel
from orca_desktop.gui.totals import TotalsStrip, core_spend_series
from orca_desktop.gui.welcome import WelcomePanel

PAGES = ("Live", "Keys", "Routers", "Settings", "Connect a tool")
TITLE = "Orca Desktop"
ROWS_SHOWN = 500


def _default_live_factory() -> LiveViewLike:
    from orca_desktop.telemetry.live import LiveView

    return LiveView(maxlen=ROWS_SHOWN)


class Banner(QFrame):
    """A one-line coloured message across the top of the window."""

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setProperty("kind", kind)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.label)
        self.hide()

    def say(self, html: str | None) -> None:
        self.label.setText(html or "")
        self.setVisible(bool(html))


class LivePage(QWidget):
    """Welcome panel (first run), totals strip, and the table beside the decision pane."""

    def __init__(
        self,
        core: CoreLike,
        model: RequestTableModel,
        *,
        open_keys: Callable[[], None],
        on_demo: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        self.welcome = WelcomePanel(core, open_keys=open_keys, on_demo=on_demo)
        self.totals = TotalsStrip(core.stats, model.records, spend_series=core_spend_series(core))
        self.table = RequestTable(model)
        self.table.empty_text = (
            f"No requests yet. Point a tool at {openai_base_url(core.base_url)} "
            "with Orca's token — see Connect a tool."
        )
        self.pane = DecisionPane()
        # Table above the pane: all thirteen columns fit the window's width.
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setHandleWidth(10)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.pane)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setSizes([300, 240])
        layout.addWidget(self.welcome)
        layout.addWidget(self.totals)
        layout.addWidget(self.splitter, 1)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        model.rows_changed.connect(self._on_rows_changed)
        model.rows_leaving.connect(self._on_rows_leaving)
        model.modelReset.connect(self._reselect)

    # The pane shows the request the user picked, by id, whatever arrives after it: it
    # redraws when that record changes, and when the row leaves the table the selection
    # is cleared (Qt would move it to a neighbour) while the pane keeps the request.

    def _on_current_row(
        self, current: QModelIndex | QPersistentModelIndex, _previous: object
    ) -> None:
        if current.isValid():  # invalid: the selection was cleared, the pane keeps its pick
            self.pane.show_record(self.model.record(current.row()))

    def _on_rows_changed(self, ids: frozenset[str]) -> None:
        self.totals.mark_dirty()
        shown = self.pane.record_id
        if shown is None or shown not in ids:
            return
        row = self.model.row_of(shown)
        if row is None:
            return
        back = not self.pane.in_table  # it left the table and came back (it finished since)
        self.pane.show_record(self.model.record(row))
        if back:
            self.table.selectRow(row)

    def _on_rows_leaving(self, ids: frozenset[str]) -> None:
        """Rows are about to be evicted: if the picked one is among them, let it go quietly."""
        current = self.model.record(self.table.selectionModel().currentIndex().row())
        if current is not None and current.id in ids:
            self.table.selectionModel().clear()
        if self.pane.record_id in ids:
            self.pane.set_in_table(False)

    def _reselect(self) -> None:
        shown = self.pane.record_id
        if shown is None:
            return
        row = self.model.row_of(shown)
        if row is None:
            self.pane.set_in_table(False)
        else:
            self.pane.show_record(self.model.record(row))
            self.table.selectRow(row)

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)


class MainWindow(QMainWindow):
    """Sidebar + stacked pages + banners + status bar."""

    def __init__(
        self,
        core: CoreLike,
        *,
        live_factory: Callable[[], LiveViewLike] = _default_live_factory,
        on_close: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.core = core
        self._on_close = on_close
        self.setStyleSheet(STYLE_SHEET)
        self.setWindowIcon(state_icon("running"))
        self.resize(1280, 800)
        self.setMinimumSize(960, 640)

        self.model = RequestTableModel(live_factory, snapshot=core.live.rows, parent=self)
        self.feed = Feed(core.hub, self.model, parent=self)
        self.model.load_snapshot()
        self.feed.flushed.connect(self._on_events)

        self.live_page = LivePage(
            core, self.model, open_keys=lambda: self.show_page("Keys"), on_demo=self.refresh_mode
        )
        self.keys_page = KeysPage(core)
        self.routers_page = RoutersPage(core)
        self.settings_page = SettingsPage(core)
        self.connect_page = ConnectPage(core)
        self.stack = QStackedWidget()
        for page in (
            self.live_page,
            self.keys_page,
            self.routers_page,
            self.settings_page,
            self.connect_page,
        ):
            self.stack.addWidget(page)

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.addItems(list(PAGES))
        self.sidebar.setFixedWidth(190)
        self.sidebar.currentRowChanged.connect(self._on_page)
        self.demo_banner = Banner("demo")
        self.notice_banner = Banner("warn")
        self.setCentralWidget(self._layout())
        self.status_label = QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        self.sidebar.setCurrentRow(0)
        self.refresh_mode()

    def _layout(self) -> QWidget:
        side = QWidget()
        side.setObjectName("sidebarColumn")
        side.setStyleSheet("QWidget#sidebarColumn { background: #17212c; }")
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(0)
        brand = QLabel("Orca Desktop")
        brand.setObjectName("brand")
        sub = QLabel("local LLM router")
        sub.setObjectName("brandSub")
        side_layout.addWidget(brand)
        side_layout.addWidget(sub)
        side_layout.addWidget(self.sidebar, 1)
        main = QWidget()
        main.setObjectName("page")
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.setSpacing(0)
        self.banner_area = QWidget()
        banners = QVBoxLayout(self.banner_area)
        banners.setContentsMargins(20, 12, 20, 0)
        banners.setSpacing(8)
        banners.addWidget(self.demo_banner)
        banners.addWidget(self.notice_banner)
        self.banner_area.hide()
        main_layout.addWidget(self.banner_area)
        main_layout.addWidget(self.stack, 1)
        root = QWidget()
        layout = QHBoxLayout(root)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(side)
        layout.addWidget(main, 1)
        return root

    # -- pages and modes -------------------------------------------------------------------

    def show_page(self, name: str) -> None:
        self.sidebar.setCurrentRow(PAGES.index(name))

    def current_page(self) -> str:
        return PAGES[self.stack.currentIndex()]

    def _on_page(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        self._update_table_shown()
        page = self.stack.widget(index)
        if page is self.keys_page:
            self.keys_page.refresh()
        elif page is self.connect_page:
            self.connect_page.refresh()

    def _update_table_shown(self) -> None:
        """Rows reach the table only while it can be seen: Live page current, not minimized.

        A hidden window needs nothing here: its feed stops, and showing the window
        applies what was buffered at once.
        """
        live = self.stack.currentWidget() is self.live_page
        self.model.set_shown(live and not self.isMinimized())

    def refresh_mode(self) -> None:
        """Demo label, first-run panel and status line from the core's current state."""
        demo = self.core.demo
        self.setWindowTitle(f"{TITLE} — DEMO" if demo else TITLE)
        self.demo_banner.say(
            "<b>DEMO</b> — requests go to built-in simulated providers: no keys, no network, "
            "no real cost."
            if demo
            else None
        )
        self._update_banner_area()
        self.live_page.welcome.setVisible(not has_usable_provider(self.core))
        self.keys_page.refresh()
        self.refresh_status()

    def refresh_status(self, state: str | None = None) -> None:
        state = state or ("paused" if self.core.paused else "running")
        demo = " · DEMO" if self.core.demo else ""
        self.status_label.setText(f"Gateway {state} · {openai_base_url(self.core.base_url)}{demo}")

    def say(self, html: str | None) -> None:
        """Show (or clear, with None) the notice banner."""
        self.notice_banner.say(html)
        self._update_banner_area()

    def _update_banner_area(self) -> None:
        shown = not self.demo_banner.isHidden() or not self.notice_banner.isHidden()
        self.banner_area.setVisible(shown)

    # -- events ----------------------------------------------------------------------------

    def _on_events(self, events: Sequence[Event]) -> None:
        keys_changed = False
        for event in events:
            if isinstance(event, GatewayStateChanged):
                self.refresh_status(event.state)
                if event.state == "error":
                    self.say(f"<b>The gateway stopped:</b> {event.detail or 'unknown error'}")
                self.connect_page.refresh()
                self.settings_page.url_label.setText(openai_base_url(self.core.base_url))
            elif isinstance(event, KeyStatusChanged):
                keys_changed = True
                if event.status == "rejected":
                    self.say(
                        f"<b>{event.provider} rejected its key</b>"
                        f"{' (' + event.detail + ')' if event.detail else ''}. "
                        "Replace it on the Keys page."
                    )
        if keys_changed:
            self.refresh_mode()

    # -- visibility ------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.feed.set_active(True)
        self._update_table_shown()
        self.live_page.totals.set_active(True)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.feed.set_active(False)
        self.live_page.totals.set_active(False)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.WindowStateChange:
            self._update_table_shown()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._on_close is not None:
            self._on_close()
        super().closeEvent(event)  # a tray app keeps running: the window only hides
