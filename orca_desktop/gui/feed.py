"""The GUI's subscription to the event hub: buffer now, apply at most ten times a second.

The hub callback runs inside the gateway's request path, so it only appends to
a bounded deque. A `QTimer` drains the deque every 100 ms, and only while the
window is visible; `flush()` drains it at once (tests call it directly). If the
buffer overflows, the oldest events are dropped and the next flush starts with
a `Reset`, which makes the table take a fresh snapshot.

When a tick brings more rows than anyone can read (over `BUSY_EVENTS` events,
i.e. a thousand requests a second or more), the next ticks come every
`BUSY_INTERVAL_MS` instead: each repaint of the table costs several ms of the
thread the gateway runs on, and four frames a second of a blur show as much as ten.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

from orca_desktop.events import Event, EventHub, Reset
from orca_desktop.gui.request_table import RequestTableModel

FLUSH_INTERVAL_MS = 100
BUSY_INTERVAL_MS = 250
BUSY_EVENTS = 200


class Feed(QObject):
    """Hub → deque → (timer) → `RequestTableModel.apply`.

    `flushed` carries every event applied in a tick (gateway and key events
    included), for widgets that react to them (banner, keys page, tray).
    """

    flushed = Signal(list)

    def __init__(
        self,
        hub: EventHub,
        model: RequestTableModel,
        *,
        maxlen: int = 5000,
        interval_ms: int = FLUSH_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._buffer: deque[Event] = deque()
        self._maxlen = maxlen
        self._lost = False
        self._interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._unsubscribe = hub.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        # Runs in the gateway's path: append and return, nothing else.
        if len(self._buffer) >= self._maxlen:
            self._buffer.popleft()
            self._lost = True
        self._buffer.append(event)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def interval_ms(self) -> int:
        """Time to the next tick: longer while requests arrive faster than anyone reads."""
        return self._timer.interval()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def set_active(self, active: bool) -> None:
        """Start draining (window shown) or stop (window hidden); showing flushes at once."""
        if active and not self._timer.isActive():
            self.flush()
            self._timer.start()
        elif not active:
            self._timer.stop()

    def flush(self) -> int:
        """Apply everything buffered as one batch; returns the number of events applied."""
        if not self._buffer and not self._lost:
            return 0
        batch: list[Event] = []
        if self._lost:
            self._lost = False
            batch.append(Reset(at_ns=0))
        batch.extend(self._buffer)
        self._buffer.clear()
        busy = len(batch) > BUSY_EVENTS
        self._timer.setInterval(
            max(BUSY_INTERVAL_MS, self._interval_ms) if busy else self._interval_ms
        )
        self._model.apply(batch)
        self.flushed.emit(batch)
        return len(batch)

    def close(self) -> None:
        self._timer.stop()
        self._unsubscribe()
