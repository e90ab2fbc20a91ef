"""Run the desktop app with a probe that measures how long its UI thread is blocked.

    python bench/gui_probe.py --out ui.jsonl -- --config X --data-dir Y --port P --show-window

The arguments after `--` go to `orca_desktop.cli.main` unchanged, so the app starts
exactly as `orca-desktop ...` would. A daemon thread posts a small Qt event to an object
living in the UI thread every --interval-ms and times its delivery: the delay is how
long the UI (and the event loop sharing its thread) could not react. Every 250 ms it
appends one JSON line {"t": wall-clock s, "n": events, "max_ms": worst delay, "over_50":
delays above 50 ms} to --out, which the benchmark reads per scenario.

Only the probe thread is added; the app itself is not modified or monkey-patched.
"""

from __future__ import annotations

import argparse
import collections
import json
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
    from orca_desktop.cli import main as orca_main

    return orca_main(argv[split + 1 :])


if __name__ == "__main__":
    sys.exit(main())
