"""The totals strip: requests, spend, savings and p50 overhead (today / all time), plus charts.

Numbers come from `core.stats()` (the `/orca/v1/stats` JSON). The spend and
savings chart uses the Core's per-minute buckets when it offers them (the last
hour), else the rows the table holds; the overhead chart shows the most recent
requests. Both are redrawn at most once a second, by `tick()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from orca_desktop.gui import _format as fmt
from orca_desktop.gui.charts import OverheadChart, SpendChart
from orca_desktop.telemetry.record import RequestRecord

REDRAW_INTERVAL_MS = 1000
MAX_POINTS = 120
SERIES_MINUTES = 60
MIN_MINUTES = 5

SpendSeries = Callable[[], tuple[list[float], list[float]]]


class _Point(Protocol):
    @property
    def cost_usd(self) -> Decimal: ...
    @property
    def savings_usd(self) -> Decimal: ...


def cumulative(points: Sequence[_Point]) -> tuple[list[float], list[float]]:
    """Running totals of spend and savings over chart buckets (oldest first).

    Leading empty buckets are dropped, so the line starts at the first request.
    """
    first = next((i for i, p in enumerate(points) if p.cost_usd or p.savings_usd), len(points))
    points = points[first:]
    spend, savings = Decimal(0), Decimal(0)
    out_spend: list[float] = []
    out_savings: list[float] = []
    for p in points:
        spend += p.cost_usd
        savings += p.savings_usd
        out_spend.append(float(spend))
        out_savings.append(float(savings))
    return out_spend, out_savings


def core_spend_series(core: object) -> SpendSeries | None:
    """The last hour, per minute, from the Core's chart buckets (`series()` or `stats_model`)."""
    series = getattr(core, "series", None)
    if callable(series):
        return lambda: cumulative(series("minute", points=SERIES_MINUTES))
    model = getattr(core, "stats_model", None)
    if model is not None and callable(getattr(model, "series", None)):
        return lambda: cumulative(
            model.series("minute", now=datetime.now(UTC), points=SERIES_MINUTES)
        )
    return None


class StatCard(QFrame):
    """A label, a big number for today, and a small all-time line."""

    def __init__(self, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 8)
        layout.setSpacing(1)
        self.label = QLabel(label.upper())
        self.label.setObjectName("cardLabel")
        self.value = QLabel(fmt.DASH)
        self.value.setObjectName("cardValue")
        self.sub = QLabel("all time " + fmt.DASH)
        self.sub.setObjectName("cardSub")
        for w in (self.label, self.value, self.sub):
            layout.addWidget(w)

    def set_values(self, today: str, all_time: str) -> None:
        if self.value.text() != today:
            self.value.setText(today)
        sub = f"all time {all_time}"
        if self.sub.text() != sub:
            self.sub.setText(sub)


def _money(block: dict[str, Any], key: str) -> str:
    value = block.get(key)
    return fmt.money(None if value is None else Decimal(str(value)))


def stat_strings(stats: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """`{"requests": (today, all_time), ...}` display strings from the stats JSON."""
    today, ever = stats.get("today") or {}, stats.get("all_time") or {}

    def pair(render: Callable[[dict[str, Any]], str]) -> tuple[str, str]:
        return render(today), render(ever)

    def requests(block: dict[str, Any]) -> str:
        text = fmt.count(block.get("requests"))
        errors = block.get("errors")
        return f"{text} ({errors} failed)" if errors else text

    return {
        "requests": pair(requests),
        "spend": pair(lambda b: _money(b, "cost_usd")),
        "savings": pair(lambda b: _money(b, "savings_usd")),
        "overhead": pair(lambda b: fmt.ms(b.get("overhead_ms_p50"))),
    }


def chart_series(
    records: Sequence[RequestRecord], max_points: int = MAX_POINTS
) -> tuple[list[float], list[float], list[float]]:
    """(cumulative spend, cumulative savings, recent overheads) from newest-first records."""
    ordered = list(reversed(records))
    spend, savings = Decimal(0), Decimal(0)
    spend_points: list[float] = []
    savings_points: list[float] = []
    step = max(1, -(-len(ordered) // max_points))
    for i, r in enumerate(ordered, start=1):
        spend += r.cost_usd or 0
        savings += r.savings_usd or 0
        if i % step == 0 or i == len(ordered):
            spend_points.append(float(spend))
            savings_points.append(float(savings))
    overheads = [r.overhead_ms for r in ordered[-60:] if r.overhead_ms is not None]
    return spend_points, savings_points, overheads


class TotalsStrip(QWidget):
    """Four stat cards over two charts. `mark_dirty()` is cheap; `tick()` does the work."""

    def __init__(
        self,
        stats: Callable[[], dict[str, Any]],
        records: Callable[[], Sequence[RequestRecord]],
        *,
        spend_series: SpendSeries | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._stats = stats
        self._records = records
        self._spend_series = spend_series
        self._dirty = True
        self.cards = {
            "requests": StatCard("Requests today"),
            "spend": StatCard("Spend today"),
            "savings": StatCard("Saved today"),
            "overhead": StatCard("p50 overhead today"),
        }
        self.spend_chart = SpendChart()
        self.overhead_chart = OverheadChart()
        cards = QGridLayout()
        cards.setSpacing(10)
        for i, card in enumerate(self.cards.values()):
            cards.addWidget(card, i // 2, i % 2)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addLayout(cards, 4)
        layout.addWidget(self.spend_chart, 4)
        layout.addWidget(self.overhead_chart, 3)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.tick)

    def set_active(self, active: bool) -> None:
        if active and not self._timer.isActive():
            self.tick()
            self._timer.start()
        elif not active:
            self._timer.stop()

    def mark_dirty(self) -> None:
        self._dirty = True

    def tick(self) -> None:
        """Refresh the numbers; redraw the charts if rows changed since the last tick."""
        for key, (today, ever) in stat_strings(self._stats()).items():
            self.cards[key].set_values(today, ever)
        if self._dirty:
            self._dirty = False
            spend, savings, overheads = chart_series(self._records())
            caption = "recent requests"
            if self._spend_series is not None:
                minutes = self._spend_series()
                if len(minutes[0]) >= MIN_MINUTES:  # otherwise per request says more
                    (spend, savings), caption = minutes, "per minute"
            self.spend_chart.caption = caption
            self.spend_chart.set_series(spend, savings)
            self.overhead_chart.set_series(overheads)
