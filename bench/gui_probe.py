"""Run the desktop app with a probe that measures how long its UI thread is blocked.

    python bench/gui_probe.py --out ui.jsonl -- --config X --data-dir Y --port P --show-window

The arguments after `--` go to `orca_desktop.cli.main` unchanged, so the app starts
exactly as `orca-desktop ...` would. A daemon thread posts a small Qt event to an object
living in the UI thread every --interval-ms and times its delivery: the delay is how
long the UI (and the qasync loop sharing its thread) could not react. Every 250 ms it
appends one JSON line {"t": wall-clock s, "n": events, "max_ms": worst delay, "over_50":
delays above 50 ms} to --out, which the benchmark reads per scenario.

Only the probe thread is added; the app itself is not modified or monkey-patched.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject

PING = QEvent.Type(QEvent.registerEventType())


class Receiver(QObject):
    """Lives in the UI thread; records how late each ping arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: collections.deque[float] = collections.deque()
        self.delays: collections.deque[float] = collections.deque()

    def event(self, ev: QEvent) -> bool:
        if ev.type() == PING:
            self.delays.append(time.perf_counter() - self.sent.popleft())
            return True
        return super().event(ev)


def probe(out: Path, interval_s: float) -> None:
    app = QCoreApplication.instance()
    while app is None:
        time.sleep(0.05)
        app = QCoreApplication.instance()
    receiver = Receiver()
    receiver.moveToThread(app.thread())
    window_end = time.perf_counter() + 0.25
    with out.open("a", buffering=1) as sink:
        while True:
            receiver.sent.append(time.perf_counter())
            QCoreApplication.postEvent(receiver, QEvent(PING))
            time.sleep(interval_s)
            if time.perf_counter() < window_end:
                continue
            window_end += 0.25
            delays = [receiver.delays.popleft() for _ in range(len(receiver.delays))]
            if receiver.sent and time.perf_counter() - receiver.sent[0] > 0.05:
                delays.append(time.perf_counter() - receiver.sent[0])  # still waiting
            sink.write(
                json.dumps(
                    {
                        "t": time.time(),
                        "n": len(delays),
                        "max_ms": max(delays, default=0.0) * 1000,
                        "over_50": sum(d > 0.05 for d in delays),
                    }
                )
                + "\n"
            )


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--interval-ms", type=float, default=10.0)
    args = p.parse_args(argv[:split])
    threading.Thread(
        target=probe, args=(args.out, args.interval_ms / 1000), daemon=True, name="ui-probe"
    ).start()
    if os.environ.get("ORCA_BENCH_GATEWAY_THREAD") == "1":
        return run_with_gateway_thread(argv[split + 1 :])
    from orca_desktop.cli import main as orca_main

    return orca_main(argv[split + 1 :])


def run_with_gateway_thread(orca_argv: list[str]) -> int:
    """Experiment (ORCA_BENCH_GATEWAY_THREAD=1), not the product: the same core and window,
    but the gateway on its own plain asyncio loop in a worker thread and the window
    alone on the qasync loop, to measure what sharing one loop costs. The GUI reads
    Stats across threads without a lock here, which the product would not do."""
    import asyncio
    import signal

    import qasync
    from PySide6.QtWidgets import QApplication

    from orca_desktop.app import Options, open_core
    from orca_desktop.cli import build_parser
    from orca_desktop.gui import run_gui

    args = build_parser().parse_args(orca_argv)
    opts = Options(config_path=args.config, data_dir=args.data_dir, port=args.port)
    ready = threading.Event()
    held: dict[str, object] = {}

    async def gateway() -> None:
        stop = asyncio.Event()
        async with open_core(opts) as core:
            held.update(core=core, loop=asyncio.get_running_loop(), stop=stop)
            ready.set()
            await stop.wait()

    worker = threading.Thread(target=lambda: asyncio.run(gateway()), name="gateway")
    worker.start()
    ready.wait(60)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)

    async def window() -> None:
        quit_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, quit_event.set)
        gui = run_gui(held["core"], quit_event, show_window=True)  # type: ignore[arg-type]
        await quit_event.wait()
        gui.close()

    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(window())
    gateway_loop = held["loop"]
    gateway_loop.call_soon_threadsafe(held["stop"].set)  # type: ignore[attr-defined]
    worker.join(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
