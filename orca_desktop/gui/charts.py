"""Two small charts drawn with plain QPainter: spend and savings over time, and overhead.

They draw from series handed to them (aggregated by `totals.py`); painting
never walks the request rows. No chart library, no extra dependency.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from orca_desktop.gui import _format as fmt
from orca_desktop.gui._style import ACCENT, CARD, LINE, MUTED, SAVINGS, WARN

_PAD = 10.0
_TITLE_H = 20.0


class _Chart(QWidget):
    title = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = ""
        self.setMinimumSize(220, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def _frame(self, painter: QPainter) -> QRectF:
        """Card background and title; returns the plot rectangle."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        outer = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(QColor(LINE), 1))
        painter.setBrush(QColor(CARD))
        painter.drawRoundedRect(outer, 8, 8)
        font = QFont(self.font())
        font.setPointSizeF(8.5)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(MUTED))
        title = f"{self.title} · {self.caption.upper()}" if self.caption else self.title
        painter.drawText(QRectF(_PAD + 2, 6, outer.width(), _TITLE_H), title)
        return outer.adjusted(_PAD + 2, _TITLE_H + 10, -_PAD - 2, -_PAD)

    def _empty(self, painter: QPainter, plot: QRectF, text: str) -> None:
        font = QFont(self.font())
        font.setPointSizeF(8.5)
        painter.setFont(font)
        painter.setPen(QColor(MUTED))
        painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, text)

    def _legend(self, painter: QPainter, items: Sequence[tuple[str, str]]) -> None:
        font = QFont(self.font())
        font.setPointSizeF(8)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        x = self.width() - _PAD - 4
        for label, color in reversed(items):
            width = metrics.horizontalAdvance(label)
            x -= width
            painter.setPen(QColor(MUTED))
            painter.drawText(QPointF(x, 19), label)
            x -= 12
            painter.fillRect(QRectF(x, 11, 8, 8), QColor(color))
            x -= 12


class SpendChart(_Chart):
    """Cumulative spend and savings (USD) over the requests in view, oldest to newest."""

    title = "SPEND AND SAVINGS"

    def __init__(self, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        self._spend: list[float] = []
        self._savings: list[float] = []
        self.setToolTip("Cumulative spend and savings over the recent requests")

    def set_series(self, spend: Sequence[float], savings: Sequence[float]) -> None:
        self._spend, self._savings = list(spend), list(savings)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        plot = self._frame(painter)
        if len(self._spend) < 2 or not any(self._spend + self._savings):
            self._empty(painter, plot, "Spend and savings appear here as requests are priced")
            return
        self._legend(painter, (("spend", ACCENT), ("saved", SAVINGS)))
        values = self._spend + self._savings
        top, bottom = max(max(values), 0.0), min(min(values), 0.0)
        span = (top - bottom) or 1.0
        self._axis_labels(painter, plot, top, bottom)

        def point(i: int, v: float, n: int) -> QPointF:
            return QPointF(
                plot.left() + plot.width() * i / (n - 1),
                plot.bottom() - plot.height() * (v - bottom) / span,
            )

        zero_y = plot.bottom() - plot.height() * (0 - bottom) / span
        painter.setPen(QPen(QColor(LINE), 1))
        painter.drawLine(QPointF(plot.left(), zero_y), QPointF(plot.right(), zero_y))
        for series, color in ((self._savings, SAVINGS), (self._spend, ACCENT)):
            path = QPainterPath(point(0, series[0], len(series)))
            for i, v in enumerate(series[1:], start=1):
                path.lineTo(point(i, v, len(series)))
            painter.setPen(QPen(QColor(color), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)

    def _axis_labels(self, painter: QPainter, plot: QRectF, top: float, bottom: float) -> None:
        font = QFont(self.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        painter.setPen(QColor(MUTED))
        painter.drawText(QPointF(plot.left(), plot.top() - 2), fmt.money(top))
        if bottom < 0:
            painter.drawText(QPointF(plot.left(), plot.bottom() + 9), fmt.money(bottom))


class OverheadChart(_Chart):
    """Gateway overhead (ms) of the most recent requests as bars, with the median as a line."""

    title = "GATEWAY OVERHEAD"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: list[float] = []
        self.setToolTip("Time the gateway itself added, per recent request (ms)")

    def set_series(self, overhead_ms: Sequence[float]) -> None:
        self._values = list(overhead_ms)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        plot = self._frame(painter)
        if not self._values:
            self._empty(painter, plot, "No requests yet")
            return
        self._legend(painter, (("per request", ACCENT), ("median", WARN)))
        peak = max(self._values) or 1.0
        n = len(self._values)
        slot = plot.width() / n
        bar = max(1.0, slot * 0.7)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(ACCENT))
        for i, v in enumerate(self._values):
            h = max(1.0, plot.height() * v / peak)
            painter.drawRect(QRectF(plot.left() + i * slot, plot.bottom() - h, bar, h))
        median = sorted(self._values)[n // 2]
        y = plot.bottom() - plot.height() * median / peak
        painter.setPen(QPen(QColor(WARN), 1.5, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        font = QFont(self.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        painter.setPen(QColor(MUTED))
        painter.drawText(QPointF(plot.left(), plot.top() - 2), f"max {fmt.ms(peak)}")
