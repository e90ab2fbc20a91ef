"""The desktop app's event loop: qasync's Qt integration with asyncio's own scheduling.

qasync turns every ``call_soon`` and every ``call_later`` into a Qt timer of its own,
started and killed through PySide. Under load the gateway schedules tens of thousands
of callbacks a second (every future that completes, every socket that becomes
readable), and aiohttp arms a timeout per request that stays registered in Qt until it
would have fired, minutes later, even after it was cancelled. That made the shared loop
cost about twice the CPU of plain asyncio and let a batch of network callbacks hold the
window for 50-170 ms.

`OrcaQtLoop` keeps qasync for everything Qt-specific (running ``QApplication.exec``,
socket notifiers, executors, thread-safe calls) and schedules callbacks the way
asyncio's own loop does: ready handles in a deque, timers in a heap, and one
single-shot QTimer that wakes the loop when either has work. Each wake runs ready
callbacks for at most `SLICE_S` before handing the thread back to Qt, so input,
paint and the window's timers are served between slices however busy the gateway is.
FIFO order of callbacks is kept across slices.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
import time
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QObject, Qt, QTimer

SLICE_S = 0.008
"""Longest run of ready callbacks before Qt gets the thread back (well under a frame)."""

_MAX_CANCELLED = 100
_CANCELLED_FRACTION = 0.5


class _Timer(asyncio.TimerHandle):
    """asyncio's TimerHandle with its internal fields declared for the type checker."""

    __slots__ = ()
    _when: float
    _scheduled: bool


class OrcaQtLoop(qasync.QEventLoop):  # type: ignore[misc]  # qasync is untyped
    """A qasync loop whose call_soon/call_at are a deque and a heap woken by one QTimer."""

    def __init__(self, app: QObject | None = None) -> None:
        super().__init__(app)
        # BaseEventLoop.__init__ made self._ready (a deque) and _timer_cancelled_count,
        # which TimerHandle.cancel() updates; qasync leaves both unused, we fill them.
        self._timers: list[_Timer] = []  # a heap
        self._wake = QTimer()
        self._wake.setSingleShot(True)
        self._wake.setTimerType(Qt.TimerType.PreciseTimer)
        self._wake.timeout.connect(self._tick)
        self._wake_at = math.inf  # monotonic deadline the QTimer is armed for

    # -- scheduling (what asyncio, aiohttp and our code call) -----------------------

    def call_soon(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        self._check_closed()
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        if self._wake_at > 0.0:
            self._arm(0.0)
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        return self.call_at(time.monotonic() + delay, callback, *args, context=context)

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        self._check_closed()
        timer = _Timer(when, callback, args, self, context)
        heapq.heappush(self._timers, timer)
        timer._scheduled = True
        if when < self._wake_at:
            self._arm(when)
        return timer

    def time(self) -> float:
        return time.monotonic()

    # -- the Qt side -----------------------------------------------------------------

    def _arm(self, when: float) -> None:
        """(Re)start the one QTimer so it fires at monotonic time `when` (0 = at once)."""
        self._wake_at = when
        delay_ms = 0 if when == 0.0 else max(0, math.ceil((when - time.monotonic()) * 1000))
        self._wake.start(delay_ms)

    def _tick(self) -> None:
        """One turn: move due timers to the ready queue, run a slice of it, re-arm."""
        self._wake_at = 0.0  # callbacks scheduled during the turn need no QTimer call
        try:
            self._run_slice()
        finally:
            self._rearm()

    def _run_slice(self) -> None:
        timers = self._timers
        if (
            self._timer_cancelled_count > _MAX_CANCELLED
            and self._timer_cancelled_count > len(timers) * _CANCELLED_FRACTION
        ):
            self._drop_cancelled_timers()
            timers = self._timers
        now = time.monotonic()
        ready = self._ready
        while timers and timers[0]._when <= now:
            timer = heapq.heappop(timers)
            timer._scheduled = False
            if timer._cancelled:
                self._timer_cancelled_count -= 1
            else:
                ready.append(timer)

        deadline = time.perf_counter() + SLICE_S
        for _ in range(len(ready)):  # only what was ready when the turn began
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()
            if time.perf_counter() > deadline:
                break

    def _rearm(self) -> None:
        if self.is_closed():
            return
        if self._ready:
            self._arm(0.0)
            return
        timers = self._timers
        while timers and timers[0]._cancelled:  # do not wake up for a dead timer
            heapq.heappop(timers)._scheduled = False
            self._timer_cancelled_count -= 1
        if timers:
            self._arm(timers[0]._when)
        else:
            self._wake_at = math.inf

    def _drop_cancelled_timers(self) -> None:
        live: list[_Timer] = []
        for timer in self._timers:
            if timer._cancelled:
                timer._scheduled = False
            else:
                live.append(timer)
        heapq.heapify(live)
        self._timers = live
        self._timer_cancelled_count = 0

    def close(self) -> None:
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        self._wake.stop()
        self._wake_at = -math.inf  # never arm again
        super().close()
        self._ready.clear()
        self._timers.clear()
