"""The Live table's cell painter: one cached string per cell, drawn straight onto the row.

Qt's own `QStyledItemDelegate` asks the model for seven or eight roles per cell (through
Python each time) and lays the text out with a fresh `QTextLayout`, several ms per
repaint of a screenful. The table's cells are plain strings with a fixed
alignment and at most a colour, so this delegate draws them itself: what it needs
from the palette, font and style is read once per repaint (`prepare`), and per
cell it does one lookup and one `drawText`. The row background and the grid are
still the view's; the one cell that shows the focus frame goes to Qt's delegate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPointF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView

Cell = tuple[str, QColor | None]
# paint() runs per cell: test plain ints, not enum flags (Python's Flag.__and__ is slow)
_SELECTED = QStyle.StateFlag.State_Selected.value
_FOCUS = QStyle.StateFlag.State_HasFocus.value
_PLACED_MAX = 4096


class CellDelegate(QStyledItemDelegate):
    """Draws `cell(row, col)` -> (text, colour or None) with `alignments[col]`.

    `prepare(view)` must run at the start of each repaint of `view` (the table's
    `paintEvent` calls it): it picks the palette colours for the view's state and
    the font's metrics. Text lands where `QCommonStyle` puts it (`viewItemDrawText`):
    a margin each side, the line box centred on whole pixels, elided on the right
    and then drawn from the left edge.
    """

    def __init__(
        self,
        cell: Callable[[int, int], Cell],
        alignments: Sequence[Qt.AlignmentFlag],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._cell = cell
        self._right = tuple(bool(a & Qt.AlignmentFlag.AlignRight) for a in alignments)
        self._text = QColor()
        self._selected_text = QColor()
        self._selected_fill = QColor()
        self._margin = 0
        self._metrics: QFontMetricsF | None = None
        self._font = QFont()
        self._set_font = False
        self._line_height = 0
        self._ascent = 0.0
        self._own = False  # False: leave every cell to Qt (wrapping, right-to-left, other elision)
        # (text, width, right-aligned) -> (text as drawn, x offset in the text box)
        self._placed: dict[tuple[str, int, bool], tuple[str, float]] = {}

    def prepare(self, view: QTableView) -> None:
        """Read what every cell of this repaint shares: colours, margin, font metrics."""
        self._own = (
            not view.wordWrap()
            and view.textElideMode() == Qt.TextElideMode.ElideRight
            and view.layoutDirection() == Qt.LayoutDirection.LeftToRight
        )
        palette = view.palette()
        if not view.isEnabled():
            group = QPalette.ColorGroup.Disabled
        elif view.isActiveWindow():
            group = QPalette.ColorGroup.Active
        else:
            group = QPalette.ColorGroup.Inactive
        self._text = palette.color(group, QPalette.ColorRole.Text)
        self._selected_text = palette.color(group, QPalette.ColorRole.HighlightedText)
        self._selected_fill = palette.color(group, QPalette.ColorRole.Highlight)
        margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view)
        self._margin = margin + 1
        font = view.font()
        self._set_font = font != view.viewport().font()
        if self._metrics is None or font != self._font:
            self._font = font
            self._metrics = QFontMetricsF(font)
            self._line_height = int(self._metrics.height())
            self._ascent = self._metrics.ascent()
            self._placed.clear()

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        state = option.state.value
        if state & _FOCUS or not self._own:
            super().paint(painter, option, index)
            return
        col = index.column()
        text, color = self._cell(index.row(), col)
        rect = option.rect
        if state & _SELECTED:
            painter.fillRect(rect, self._selected_fill)
            painter.setPen(self._selected_text)
        else:
            painter.setPen(self._text if color is None else color)
        if self._set_font:
            painter.setFont(self._font)
        x, y, w, h = cast(tuple[int, int, int, int], rect.getRect())
        width = w - 2 * self._margin
        key = (text, width, self._right[col])
        placed = self._placed.get(key)
        if placed is None:
            placed = self._placed[key] = self._place(*key)
        shown, offset = placed
        baseline = y + (h - self._line_height) // 2 + self._ascent
        painter.drawText(QPointF(x + self._margin + offset, baseline), shown)

    def _place(self, text: str, width: int, right: bool) -> tuple[str, float]:
        metrics = self._metrics
        assert metrics is not None
        if len(self._placed) >= _PLACED_MAX:
            self._placed.clear()
        advance = metrics.horizontalAdvance(text)
        if advance > width:
            return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width), 0.0
        return text, (width - advance if right else 0.0)
