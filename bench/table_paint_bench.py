"""Benchmark (not a test): what the Live table costs the GUI thread, in process, offscreen.

Builds the real `RequestTable` over the real `RequestTableModel` and `Feed`, styled
with the window's style sheet and sized as in a 1280x800 window (1050x317, eleven
rows on screen), and reports CPU time (`time.process_time`, ms) per:

- repaint_ms: a repaint of the rows with nothing new (their strings already made);
- tick_flush_ms / tick_paint_ms: the feed applies one busy tick of --burst requests
  (received + finished each: 250 per 250 ms tick is 1000 requests/s), then Qt
  repaints what the model's signals marked, formatting the new rows on top;
- hidden_tick_ms: the same tick while the table cannot be seen (another page);
- catch_up_ms: showing the table again after those hidden ticks, repaint included;
- data_calls: `RequestTableModel.data()` calls in one repaint.

Qt paints on its own frame timer, so each measurement waits (without CPU) until the
viewport has painted. Each run builds a fresh table.

Run:

    .venv/bin/python bench/table_paint_bench.py [--rows 500] [--repaints 300]
        [--ticks 40] [--burst 250] [--runs 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QEventLoop, QObject, QtMsgType, qInstallMessageHandler  # noqa: E402
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget  # noqa: E402

from orca_desktop.events import EventHub, RequestFinished, RequestReceived  # noqa: E402
from orca_desktop.gui._style import STYLE_SHEET  # noqa: E402
from orca_desktop.gui.feed import Feed  # noqa: E402
from orca_desktop.gui.request_table import RequestTable, RequestTableModel  # noqa: E402
from orca_desktop.telemetry.live import LiveView  # noqa: E402
from orca_desktop.telemetry.record import RequestRecord  # noqa: E402

TABLE_SIZE = (1050, 317)  # the Live table in a 1280x800 window
CLIENTS = ("openai-python", "claude-code", "cursor", None, "curl/8.5.0")
SERVED = (
    ("auto", "gpt-4o-mini", "openai"),
    ("auto", "claude-haiku-4-5", "anthropic"),
    ("orcarouter/cheap", "deepseek-chat", "deepseek"),
    ("gpt-4o", "gpt-4o", "openai"),
    ("claude-sonnet-4-5", "claude-sonnet-4-5", "anthropic"),
)
T0 = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def records() -> Iterator[RequestRecord]:
    """Realistic finished rows: mostly 200s, some 5xx, 499s and a negative saving."""
    for n in itertools.count():
        requested, model, provider = SERVED[n % len(SERVED)]
        status, error = 200, None
        if n % 17 == 5:
            status, error = 502, f"upstream {provider} returned 502"
        elif n % 23 == 7:
            status, error = 499, "client disconnected"
        saved = Decimal("-0.00042") if n % 11 == 3 else Decimal("0.004935") + n % 7
        yield RequestRecord(
            id=f"req_{n:07d}",
            started_at=(T0 + timedelta(milliseconds=n)).isoformat(),
            endpoint="/v1/chat/completions",
            client=CLIENTS[n % len(CLIENTS)],
            requested_model=requested,
            provider=provider,
            model=model,
            byok=n % 3 != 0,
            status=status,
            error=error,
            prompt_tokens=1200 + n % 900,
            completion_tokens=225 + n % 300,
            cost_usd=Decimal("0.000315") * (1 + n % 5),
            savings_usd=saved,
            overhead_ms=0.4 + (n % 50) / 40,
            upstream_ms=80.0 + n % 700,
            ttft_ms=40.0 + n % 200,
            duration_ms=90.0 + n % 700,
        )


class PaintCounter(QObject):
    """Counts the paint events one widget receives."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


class CountingModel(RequestTableModel):
    """Counts `data()` calls (Shiboken resolves the override once, so patching later misses)."""

    calls = 0

    def data(self, index: Any, role: int = 0) -> Any:
        CountingModel.calls += 1
        return super().data(index, role)


class Bench:
    def __init__(self, rows: int, model_class: type[RequestTableModel] = RequestTableModel) -> None:
        self.hub = EventHub()
        self.model = model_class(lambda: LiveView(maxlen=500))
        self.feed = Feed(self.hub, self.model, maxlen=100_000)
        self.records = records()
        self.container = QWidget()
        self.container.setStyleSheet(STYLE_SHEET)
        layout = QVBoxLayout(self.container)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = RequestTable(self.model)
        layout.addWidget(self.table)
        self.container.resize(*TABLE_SIZE)
        self.paints = PaintCounter(self.table.viewport())
        self.container.show()
        self.model.load_snapshot([next(self.records) for _ in range(rows)][::-1])
        self.table.selectRow(3)
        self.repaint()

    def close(self) -> None:
        self.feed.close()
        self.container.close()
        self.container.deleteLater()
        QApplication.processEvents()

    def repaint(self) -> None:
        """Ask for a repaint of the rows and wait until Qt has painted them."""
        self.table.viewport().update()
        self.settle()

    def settle(self) -> None:
        """Run the event loop until the viewport has painted (Qt paints on its frame timer)."""
        before = self.paints.count
        deadline = time.monotonic() + 1.0
        while self.paints.count == before and time.monotonic() < deadline:
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 20)
        QApplication.processEvents()

    def publish(self, n: int) -> None:
        for _ in range(n):
            r = next(self.records)
            self.hub.publish(
                RequestReceived(
                    request_id=r.id,
                    at_ns=0,
                    endpoint=r.endpoint,
                    requested_model=r.requested_model,
                    client=r.client,
                )
            )
            self.hub.publish(RequestFinished(request_id=r.id, at_ns=0, record=r))

    def set_table_shown(self, shown: bool) -> None:
        set_shown = getattr(self.model, "set_shown", None)
        if callable(set_shown):
            set_shown(shown)
        self.table.setVisible(shown)


def per_call_ms(fn: Callable[[], Any], n: int) -> float:
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t0) * 1000 / n


def data_calls_per_repaint(rows: int) -> int:
    bench = Bench(rows, CountingModel)
    CountingModel.calls = 0
    bench.repaint()
    calls = CountingModel.calls
    bench.close()
    return calls


def run(args: argparse.Namespace) -> dict[str, float]:
    bench = Bench(args.rows)
    out: dict[str, float] = {}
    out["repaint_ms"] = per_call_ms(bench.repaint, args.repaints)

    bench.table.selectionModel().clear()  # as under bench/run.py: nobody has clicked a row
    flush_ms: list[float] = []
    paint_ms: list[float] = []
    for _ in range(args.ticks):
        bench.publish(args.burst)
        t0 = time.process_time()
        bench.feed.flush()
        t1 = time.process_time()
        bench.settle()  # the model's signals asked for the repaint
        t2 = time.process_time()
        flush_ms.append((t1 - t0) * 1000)
        paint_ms.append((t2 - t1) * 1000)
    out["tick_flush_ms"] = statistics.mean(flush_ms)
    out["tick_paint_ms"] = statistics.mean(paint_ms)

    bench.set_table_shown(False)
    QApplication.processEvents()
    hidden: list[float] = []
    for _ in range(args.ticks):
        bench.publish(args.burst)
        t0 = time.process_time()
        bench.feed.flush()
        QApplication.processEvents()
        hidden.append((time.process_time() - t0) * 1000)
    out["hidden_tick_ms"] = statistics.mean(hidden)
    t0 = time.process_time()
    bench.set_table_shown(True)
    bench.settle()
    out["catch_up_ms"] = (time.process_time() - t0) * 1000
    bench.close()
    out["data_calls"] = data_calls_per_repaint(args.rows)
    return out


def quiet_offscreen_warnings(kind: QtMsgType, context: Any, message: str) -> None:
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def main() -> None:
    qInstallMessageHandler(quiet_offscreen_warnings)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--repaints", type=int, default=300)
    parser.add_argument("--ticks", type=int, default=40)
    parser.add_argument("--burst", type=int, default=250, help="requests per busy tick")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _app = QApplication.instance() or QApplication([])
    results = [run(args) for _ in range(args.runs)]
    print(f"{'':16}" + "".join(f"{'run ' + str(i + 1):>10}" for i in range(args.runs)))
    for key in results[0]:
        values = "".join(f"{r[key]:>10.3f}" for r in results)
        print(f"{key:16}{values}")


if __name__ == "__main__":
    main()
