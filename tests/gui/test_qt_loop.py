"""The desktop app's event loop (OrcaQtLoop): asyncio's contract on top of Qt's loop.

The whole gateway runs on this loop in the desktop app, so what asyncio promises must
hold here too: FIFO callbacks, timers in deadline order, cancelled timers that never run
(and do not pile up), thread-safe calls, executors, real sockets. And Qt must get the
thread back while the gateway keeps the loop busy.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, QTimer

from orca_desktop.gui import qt_loop
from orca_desktop.gui.qt_loop import OrcaQtLoop

_PING = QEvent.Type(QEvent.registerEventType())


class _Pinged(QObject):
    """Records, on delivery of a posted Qt event, what `probe()` returned at that moment."""

    def __init__(self, probe: Any) -> None:
        super().__init__()
        self.probe = probe
        self.seen: list[Any] = []

    def event(self, ev: QEvent) -> bool:
        if ev.type() == _PING:
            self.seen.append(self.probe())
            return True
        return super().event(ev)


def test_call_soon_runs_callbacks_in_fifo_order(qloop: OrcaQtLoop) -> None:
    order: list[int] = []

    async def main() -> None:
        for i in range(2000):
            qloop.call_soon(order.append, i)
        await asyncio.sleep(0)
        await asyncio.sleep(0.01)

    qloop.run_until_complete(main())
    assert order == list(range(2000))


def test_fifo_order_holds_across_slices(qloop: OrcaQtLoop) -> None:
    """Callbacks that each outlast the slice still run in the order they were queued."""
    order: list[int] = []

    def slow(i: int) -> None:
        end = time.perf_counter() + qt_loop.SLICE_S / 2
        while time.perf_counter() < end:
            pass
        order.append(i)

    async def main() -> None:
        for i in range(12):
            qloop.call_soon(slow, i)
        while len(order) < 12:
            await asyncio.sleep(0.005)

    qloop.run_until_complete(asyncio.wait_for(main(), 10))
    assert order == list(range(12))


def test_timers_fire_in_deadline_order_and_cancelled_ones_never(qloop: OrcaQtLoop) -> None:
    fired: list[str] = []

    async def main() -> None:
        qloop.call_later(0.06, fired.append, "c")
        qloop.call_later(0.02, fired.append, "a")
        dead = qloop.call_later(0.03, fired.append, "cancelled")
        qloop.call_at(qloop.time() + 0.04, fired.append, "b")
        dead.cancel()
        await asyncio.sleep(0.12)

    qloop.run_until_complete(main())
    assert fired == ["a", "b", "c"]


def test_a_timer_does_not_fire_before_its_deadline(qloop: OrcaQtLoop) -> None:
    async def main() -> float:
        start = qloop.time()
        await asyncio.sleep(0.05)
        return qloop.time() - start

    assert qloop.run_until_complete(main()) >= 0.05


def test_cancelled_timers_do_not_pile_up(qloop: OrcaQtLoop) -> None:
    """aiohttp arms a long timeout per request and cancels it on success; those must go."""

    async def main() -> None:
        for _ in range(5000):
            qloop.call_later(300, lambda: None).cancel()
        qloop.call_later(300, lambda: None)  # one live long timer stays
        await asyncio.sleep(0.01)

    qloop.run_until_complete(main())
    assert len(qloop._timers) == 1


def test_exceptions_in_callbacks_reach_the_handler_and_the_loop_goes_on(
    qloop: OrcaQtLoop,
) -> None:
    reported: list[dict[str, Any]] = []
    qloop.set_exception_handler(lambda _loop, context: reported.append(context))
    after: list[str] = []

    def boom() -> None:
        raise ValueError("callback failed")

    async def main() -> None:
        qloop.call_soon(boom)
        qloop.call_soon(after.append, "still running")
        await asyncio.sleep(0.01)

    qloop.run_until_complete(main())
    assert after == ["still running"]
    assert isinstance(reported[0]["exception"], ValueError)


def test_threads_executors_and_wait_for(qloop: OrcaQtLoop) -> None:
    async def main() -> tuple[int, str, bool]:
        from_executor = await qloop.run_in_executor(None, sum, [1, 2, 3])
        future: asyncio.Future[str] = qloop.create_future()
        threading.Thread(
            target=lambda: qloop.call_soon_threadsafe(future.set_result, "from thread")
        ).start()
        from_thread = await asyncio.wait_for(future, 5)
        try:
            await asyncio.wait_for(asyncio.sleep(10), 0.02)
        except TimeoutError:
            timed_out = True
        else:
            timed_out = False
        return from_executor, from_thread, timed_out

    assert qloop.run_until_complete(main()) == (6, "from thread", True)


def test_a_thread_wakes_an_idle_loop(qloop: OrcaQtLoop) -> None:
    """Nothing else scheduled: only the self-pipe can wake the loop for the thread's call."""

    async def main() -> str:
        future: asyncio.Future[str] = qloop.create_future()

        def later() -> None:
            time.sleep(0.05)
            qloop.call_soon_threadsafe(future.set_result, "woken")

        threading.Thread(target=later).start()
        return await future

    assert qloop.run_until_complete(asyncio.wait_for(main(), 10)) == "woken"


def test_signal_handlers_run(qloop: OrcaQtLoop) -> None:
    async def main() -> str:
        got: asyncio.Future[str] = qloop.create_future()
        qloop.add_signal_handler(signal.SIGUSR1, got.set_result, "SIGUSR1")
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            return await got
        finally:
            qloop.remove_signal_handler(signal.SIGUSR1)

    assert qloop.run_until_complete(asyncio.wait_for(main(), 10)) == "SIGUSR1"


def test_readers_and_writers_on_raw_sockets(qloop: OrcaQtLoop) -> None:
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)

    async def receive() -> bytes:
        received = b""
        while len(received) < 400_000:
            received += await qloop.sock_recv(right, 65536)
        return received

    async def main() -> bytes:
        # more than the socket buffer holds: the sender waits on a writer, the receiver
        # on a reader, and each only progresses through the other
        _, received = await asyncio.gather(qloop.sock_sendall(left, b"ping" * 100_000), receive())
        return received

    try:
        assert qloop.run_until_complete(asyncio.wait_for(main(), 10)) == b"ping" * 100_000
    finally:
        left.close()
        right.close()


def test_real_http_round_trips_on_the_loop(qloop: OrcaQtLoop) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"n": int(request.query["n"])})

    async def main() -> list[int]:
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as session:

                async def one(n: int) -> int:
                    async with session.get(f"http://127.0.0.1:{port}/?n={n}") as r:
                        return int((await r.json())["n"])

                return list(await asyncio.gather(*(one(n) for n in range(200))))
        finally:
            await runner.cleanup()

    assert qloop.run_until_complete(asyncio.wait_for(main(), 30)) == list(range(200))


def test_qt_events_are_served_while_the_loop_is_busy(qloop: OrcaQtLoop) -> None:
    """A burst of ready callbacks far longer than a slice must not hold Qt's events back:
    an event posted by the first callback is delivered long before the burst is done."""
    burst = 200
    done: list[int] = []
    pinged = _Pinged(lambda: len(done))

    def busy(i: int) -> None:
        if i == 0:
            QCoreApplication.postEvent(pinged, QEvent(_PING))
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass
        done.append(i)

    async def main() -> None:
        for i in range(burst):
            qloop.call_soon(busy, i)
        while len(done) < burst:
            await asyncio.sleep(0.01)

    qloop.run_until_complete(asyncio.wait_for(main(), 30))
    assert done == list(range(burst))
    assert len(pinged.seen) == 1
    assert pinged.seen[0] < burst // 4


class _CountingLoop(OrcaQtLoop):
    io_wakeups = 0

    def _on_io(self) -> None:
        self.io_wakeups += 1
        super()._on_io()


def test_a_modal_dialog_in_a_callback_does_not_spin(qapp: Any) -> None:
    """A blocking nested Qt loop (QMessageBox.exec from a coroutine) holds asyncio, as any
    blocking call does, but must not busy-loop on readiness nobody can consume; what
    arrived meanwhile runs once it returns."""
    loop = _CountingLoop(qapp)
    try:

        async def main() -> str:
            future: asyncio.Future[str] = loop.create_future()
            threading.Thread(
                target=lambda: loop.call_soon_threadsafe(future.set_result, "after the modal")
            ).start()
            time.sleep(0.05)  # the self-pipe is now readable
            nested = QEventLoop()
            QTimer.singleShot(300, nested.quit)
            nested.exec()  # what QMessageBox.exec() does
            return await asyncio.wait_for(future, 5)

        assert loop.run_until_complete(main()) == "after the modal"
        assert loop.io_wakeups < 10
    finally:
        loop.close()
