"""The desktop app's event loop: Qt runs the thread, asyncio's own machinery schedules.

qasync turns every ``call_soon`` and every ``call_later`` into a Qt timer of its own,
started and killed through PySide, and every readable socket into a QSocketNotifier
signal, a disable, a timer and a re-enable. Under load the gateway schedules tens of
thousands of callbacks a second, and aiohttp arms a timeout per request that stayed
registered in Qt until it would have fired, minutes later, even after it was cancelled.
The shared loop cost about twice the CPU of plain asyncio and let a batch of network
callbacks hold the window for 50-170 ms.

`OrcaQtLoop` keeps qasync for running ``QApplication.exec``, executors and exception
handling, and otherwise works like asyncio's selector loop: ready handles in a deque,
timers in a heap, sockets in an epoll (kqueue) selector. Qt watches two things only:
the selector's own file descriptor (one QSocketNotifier) and one single-shot QTimer.
Each wake-up is a slice of one asyncio iteration (poll, due timers, the ready
snapshot) that runs for at most `SLICE_S` before Qt gets the thread back, so input,
paint and the window's timers are served however busy the gateway is. FIFO order of
callbacks is kept across slices.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
import selectors
import time
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QObject, QSocketNotifier, Qt, QTimer

SLICE_S = 0.008
"""Longest run of ready callbacks before Qt gets the thread back (well under a frame)."""

_SELECTOR_LOOP: Any = asyncio.selector_events.BaseSelectorEventLoop  # private API, untyped
_MAX_CANCELLED = 100
_CANCELLED_FRACTION = 0.5


class _Timer(asyncio.TimerHandle):
    """asyncio's TimerHandle with its internal fields declared for the type checker."""

    __slots__ = ()
    _when: float
    _scheduled: bool


class OrcaQtLoop(qasync.QEventLoop):  # type: ignore[misc]  # qasync is untyped
    """A qasync loop that schedules like asyncio: a ready deque, a timer heap and a native
    selector, woken through one QSocketNotifier (the selector's fd) and one QTimer."""

    _selector: selectors.BaseSelector

    def __init__(self, app: QObject | None = None) -> None:
        super().__init__(app)
        # BaseEventLoop.__init__ made self._ready (a deque) and _timer_cancelled_count,
        # which TimerHandle.cancel() updates; qasync leaves both unused, we fill them.
        self._timers: list[_Timer] = []  # a heap
        self._todo = 0  # handles left to run in the current iteration
        self._wake = QTimer()
        self._wake.setSingleShot(True)
        self._wake.setTimerType(Qt.TimerType.PreciseTimer)
        self._wake.timeout.connect(self._tick)
        self._wake_at = math.inf  # monotonic deadline the QTimer is armed for
        self._in_tick = False
        self._io_paused = False
        self._io = QSocketNotifier(self._swap_in_native_selector(), QSocketNotifier.Type.Read)
        self._io.activated.connect(self._on_io)

    def _swap_in_native_selector(self) -> int:
        """Move the self-pipe (signals, thread wake-ups) from qasync's Qt-backed selector,
        where asyncio's constructor registered it, to a native one; return its fd."""
        qt_selector = self._selector
        native = selectors.DefaultSelector()
        for key in list(qt_selector.get_map().values()):
            qt_selector.unregister(key.fileobj)
            native.register(key.fileobj, key.events, key.data)
        qt_selector.close()
        self._selector = native
        return native.fileno()

    # asyncio's selector-loop versions, not qasync's per-socket QSocketNotifiers
    _add_reader = _SELECTOR_LOOP._add_reader
    _remove_reader = _SELECTOR_LOOP._remove_reader
    _add_writer = _SELECTOR_LOOP._add_writer
    _remove_writer = _SELECTOR_LOOP._remove_writer

    # -- scheduling (what asyncio, aiohttp and our code call) -----------------------

    def call_soon(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = self._enqueue(callback, args, context)
        if self._wake_at > 0.0:
            self._arm(0.0)
        return handle

    def call_soon_threadsafe(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        """From any thread: queue, then wake the loop through the self-pipe (no Qt call)."""
        handle = self._enqueue(callback, args, context)
        self._write_to_self()
        return handle

    def _enqueue(
        self,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        context: contextvars.Context | None,
    ) -> asyncio.Handle:
        self._check_closed()
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def _add_callback(self, handle: asyncio.Handle) -> None:
        """asyncio's hook for I/O callbacks found by the poll; they run this iteration."""
        if not handle._cancelled:
            self._ready.append(handle)

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

    def _on_io(self) -> None:
        """A socket (or the self-pipe) is ready: make sure an iteration runs soon."""
        if self._in_tick:
            # A callback runs a nested Qt loop (a modal dialog). Like any blocking call it
            # holds the asyncio loop until it returns; meanwhile Qt would re-report the
            # same unread readiness on every pass, spinning a core.
            self._io.setEnabled(False)
            self._io_paused = True
        elif self._wake_at > 0.0:
            self._arm(0.0)

    def _tick(self) -> None:
        self._in_tick = True
        self._wake_at = 0.0  # callbacks scheduled during the turn need no QTimer call
        try:
            self._run_slice()
        finally:
            self._in_tick = False
            if self._io_paused and not self.is_closed():
                self._io_paused = False
                self._io.setEnabled(True)
            self._rearm()

    def _run_slice(self) -> None:
        """Run asyncio iterations (poll, due timers, the ready snapshot) until there is
        nothing to do or `SLICE_S` has passed; an unfinished snapshot resumes next tick.

        Under load this keeps many iterations inside one Qt wake-up: each trip through
        Qt's own loop (its poll, the QTimer, the call into Python) costs about what a
        small request does."""
        ready = self._ready
        deadline = time.perf_counter() + SLICE_S
        while True:
            if not self._todo:
                self._start_iteration()
                if not self._todo:
                    return  # idle: Qt sleeps until a socket, the self-pipe or a timer
            while self._todo and ready:
                self._todo -= 1
                handle = ready.popleft()
                if not handle._cancelled:
                    handle._run()
                if time.perf_counter() > deadline:
                    return
            if self.is_closed():
                return

    def _start_iteration(self) -> None:
        """What asyncio does at the top of each iteration: poll without waiting, move due
        timers to the ready queue, and take the snapshot of handles to run."""
        ready = self._ready
        self._process_events(self._selector.select(0))
        if (
            self._timer_cancelled_count > _MAX_CANCELLED
            and self._timer_cancelled_count > len(self._timers) * _CANCELLED_FRACTION
        ):
            self._drop_cancelled_timers()
        timers = self._timers
        now = time.monotonic()
        while timers and timers[0]._when <= now:
            timer = heapq.heappop(timers)
            timer._scheduled = False
            if timer._cancelled:
                self._timer_cancelled_count -= 1
            else:
                ready.append(timer)
        self._todo = len(ready)

    def _rearm(self) -> None:
        if self.is_closed():
            return
        if self._ready:
            self._arm(0.0)
            return
        self._todo = 0
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
        self._io.setEnabled(False)
        super().close()  # closes the selector and the self-pipe
        self._ready.clear()
        self._timers.clear()
        self._todo = 0


def new_event_loop(app: QObject | None = None) -> asyncio.AbstractEventLoop:
    """The app's loop: OrcaQtLoop where the native selector can be watched by Qt (it has
    a file descriptor: epoll, kqueue); stock qasync elsewhere (Windows)."""
    probe = selectors.DefaultSelector()
    try:
        probe.fileno()
    except (AttributeError, NotImplementedError):
        return qasync.QEventLoop(app)  # type: ignore[no-any-return]
    finally:
        probe.close()
    return OrcaQtLoop(app)
