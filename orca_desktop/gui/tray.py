"""The tray icon: gateway state at a glance, a tooltip with today's numbers, and the menu.

The icon shows running / paused / error; the tooltip (base URL, today's
requests and spend) refreshes once a second. The menu opens the window,
copies the base URL or the token (never shown), pauses or resumes the
gateway, and quits by calling `on_quit` — never `QApplication.quit()`, which
would stop the qasync loop under the running coroutine. A rejected key raises
one notification per provider, not one per failed request.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from orca_desktop.events import Event, GatewayStateChanged, KeyStatusChanged
from orca_desktop.gui import _format as fmt
from orca_desktop.gui._async import run_task
from orca_desktop.gui._core import CoreLike, openai_base_url
from orca_desktop.gui.icons import state_icon

TOOLTIP_INTERVAL_MS = 1000
NOTIFY_AGAIN_AFTER_S = 600.0
_TRAY_EVENTS = frozenset({GatewayStateChanged, KeyStatusChanged})


class TrayIcon(QSystemTrayIcon):
    """The system tray entry. `notified(title, message)` mirrors each desktop notification."""

    notified = Signal(str, str)

    def __init__(
        self,
        core: CoreLike,
        *,
        on_open: Callable[[], None],
        on_quit: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._core = core
        self._on_open = on_open
        self._on_quit = on_quit
        self._clock = clock
        self._events: deque[Event] = deque(maxlen=200)
        self._error: str | None = None
        self._state = ""
        self._notified_at: dict[str, float] = {}
        self.menu = QMenu()
        self.open_action = self._add("Open", on_open)
        self.menu.addSeparator()
        self.copy_url_action = self._add("Copy base URL", self.copy_base_url)
        self.copy_token_action = self._add("Copy token", self.copy_token)
        self.menu.addSeparator()
        self.pause_action = self._add("Pause gateway", self.toggle_pause)
        self.menu.addSeparator()
        self.quit_action = self._add("Quit", self.quit)
        self.setContextMenu(self.menu)
        self.activated.connect(self._on_activated)
        self._unsubscribe = core.hub.subscribe(self._on_event)
        self._timer = QTimer(self)
        self._timer.setInterval(TOOLTIP_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def _add(self, text: str, slot: Callable[[], None]) -> QAction:
        action = self.menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def actions_by_text(self) -> dict[str, QAction]:
        return {a.text(): a for a in self.menu.actions() if a.text()}

    # -- hub → deque → refresh -------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if type(event) in _TRAY_EVENTS:  # runs twice per request: no isinstance of a union
            self._events.append(event)

    def refresh(self) -> None:
        """Handle buffered events, then update icon, tooltip and the Pause/Resume label."""
        while self._events:
            self._handle(self._events.popleft())
        state = "error" if self._error else ("paused" if self._core.paused else "running")
        if state != self._state:
            self._state = state
            self.setIcon(state_icon(state))
        self.pause_action.setText("Resume gateway" if self._core.paused else "Pause gateway")
        tooltip = self.tooltip_text()
        if tooltip != self.toolTip():
            self.setToolTip(tooltip)

    @property
    def state(self) -> str:
        return self._state

    def tooltip_text(self) -> str:
        today = self._core.stats().get("today") or {}
        cost = today.get("cost_usd")
        spend = fmt.money(None if cost is None else float(cost))
        title = "Orca Desktop (DEMO)" if self._core.demo else "Orca Desktop"
        detail = f" — {self._error}" if self._error else ""
        return (
            f"{title}: {self._state}{detail}\n"
            f"{openai_base_url(self._core.base_url)}\n"
            f"Today: {fmt.count(today.get('requests', 0))} requests, {spend}"
        )

    def _handle(self, event: Event) -> None:
        if isinstance(event, GatewayStateChanged):
            if event.state == "error":
                first = self._error is None
                self._error = event.detail or "the gateway stopped"
                if first:
                    self._notify("Orca gateway stopped", self._error)
            else:
                self._error = None
        elif isinstance(event, KeyStatusChanged):
            if event.status == "rejected":
                self._notify_rejected(event)
            elif event.status in ("saved", "ok", "deleted"):
                self._notified_at.pop(event.provider, None)

    def _notify_rejected(self, event: KeyStatusChanged) -> None:
        now = self._clock()
        last = self._notified_at.get(event.provider)
        if last is not None and now - last < NOTIFY_AGAIN_AFTER_S:
            return
        self._notified_at[event.provider] = now
        detail = f" ({event.detail})" if event.detail else ""
        self._notify(
            f"{event.provider} rejected its key",
            f"Requests to {event.provider} fail{detail}. Replace the key in Orca's Keys page "
            f"or run `orca-desktop keys set {event.provider}`.",
        )

    def _notify(self, title: str, message: str) -> None:
        self.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 10_000)
        self.notified.emit(title, message)

    # -- actions ---------------------------------------------------------------------------

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self._on_open()

    def copy_base_url(self) -> None:
        QGuiApplication.clipboard().setText(openai_base_url(self._core.base_url))

    def copy_token(self) -> None:
        QGuiApplication.clipboard().setText(self._core.token())

    def toggle_pause(self) -> None:
        self.pause_action.setEnabled(False)
        work = self._core.resume() if self._core.paused else self._core.pause()
        run_task(
            self,
            work,
            name="gui-toggle-pause",
            on_done=lambda _: self._after_toggle(),
            on_error=lambda _exc: self._after_toggle(),
        )

    def _after_toggle(self) -> None:
        self.pause_action.setEnabled(True)
        self.refresh()

    def quit(self) -> None:
        self._on_quit()

    def close(self) -> None:
        """Stop listening and leave the tray (called by `Gui.close` at shutdown)."""
        self._timer.stop()
        self._unsubscribe()
        self.hide()
