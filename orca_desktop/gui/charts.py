"""Two small charts drawn with plain QPainter: spend and savings over time, and overhead.

They draw from series handed to them (aggregated by `totals.py`); painting
never walks the request rows. No chart library, no extra dependency.
Layout of each card: title, then a line with a note (left) and the legend
(right), then the plot.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from orca_desktop.gui import _format as fmt
from orca_desktop.gui._style import ACCENT, CARD, LINE, MUTED, SAVINGS, WARN

_PAD = 12.0
_TITLE_Y = 8.0
_NOTE_Y = 26.0
_PLOT_TOP = 46.0


class _Chart(QWidget):
    title = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = ""
        self.setMinimumWidth(220)
        self.setFixedHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def _font(self, size: float, *, bold: bool = False) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(size)
        font.setBold(bold)
        return font

    def _frame(self, painter: QPainter) -> QRectF:
        """Card background and title; returns the plot rectangle."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        outer = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(QColor(LINE), 1))
        painter.setBrush(QColor(CARD))
        painter.drawRoundedRect(outer, 8, 8)
        painter.setFont(self._font(8.5, bold=True))
        painter.setPen(QColor(MUTED))
        painter.drawText(QRectF(_PAD, _TITLE_Y, outer.width() - 2 * _PAD, 16), self.title)
        return QRectF(_PAD, _PLOT_TOP, outer.width() - 2 * _PAD, outer.height() - _PLOT_TOP - _PAD)

    def _note(self, painter: QPainter, text: str) -> None:
        painter.setFont(self._font(8))
        painter.setPen(QColor(MUTED))
        painter.drawText(QRectF(_PAD, _NOTE_Y, self.width() / 2, 14), text)

    def _empty(self, painter: QPainter, plot: QRectF, text: str) -> None:
        painter.setFont(self._font(8.5))
        painter.setPen(QColor(MUTED))
        painter.drawText(plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _legend(self, painter: QPainter, items: Sequence[tuple[str, str]]) -> None:
        painter.setFont(self._font(8))
        metrics = painter.fontMetrics()
        x = self.width() - _PAD
        for label, color in reversed(items):
            x -= metrics.horizontalAdvance(label)
            painter.setPen(QColor(MUTED))
            painter.drawText(QRectF(x, _NOTE_Y, metrics.horizontalAdvance(label) + 2, 14), label)
            x -= 12
            painter.fillRect(QRectF(x, _NOTE_Y + 3, 8, 8), QColor(color))
            x -= 14


class SpendChart(_Chart):
    """Cumulative spend and savings (USD), oldest to newest, per request or per minute."""

    title = "SPEND AND SAVINGS"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spend: list[float] = []
        self._savings: list[float] = []
        self.setToolTip("Cumulative spend and savings")

    def set_series(self, spend: Sequence[float], savings: Sequence[float]) -> None:
        self._spend, self._savings = list(spend), list(savings)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        plot = self._frame(painter)
        if len(self._spend) < 2 or not any(self._spend + self._savings):
            self._empty(painter, plot, "Spend and savings appear here as requests are priced")
            return
        self._note(painter, f"{fmt.money(self._spend[-1])} spent · {self.caption}")
        self._legend(painter, (("spend", ACCENT), ("saved", SAVINGS)))
        values = self._spend + self._savings
        top, bottom = max(max(values), 0.0), min(min(values), 0.0)
        span = (top - bottom) or 1.0

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


class OverheadChart(_Chart):
    """Gateway overhead (ms) of the most recent requests as bars, with the median as a line."""

    title = "GATEWAY OVERHEAD"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: list[float] = []
        self.setToolTip("Time the gateway itself added, per recent request")

    def set_series(self, overhead_ms: Sequence[float]) -> None:
        self._values = list(overhead_ms)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        plot = self._frame(painter)
        if not self._values:
            self._empty(painter, plot, "No requests yet")
            return
        peak = max(self._values) or 1.0
        n = len(self._values)
        median = sorted(self._values)[n // 2]
        self._note(painter, f"max {fmt.ms(peak)}")
        self._legend(painter, (("request", ACCENT), (f"median {fmt.ms(median)}", WARN)))
        slot = plot.width() / max(n, 12)  # a few requests do not make fat bars
        bar = max(1.0, slot * 0.7)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(ACCENT))
        for i, v in enumerate(self._values):
            h = max(1.0, plot.height() * v / peak)
            painter.drawRoundedRect(QRectF(plot.left() + i * slot, plot.bottom() - h, bar, h), 1, 1)
        y = plot.bottom() - plot.height() * median / peak
        painter.setPen(QPen(QColor(WARN), 1.5, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
