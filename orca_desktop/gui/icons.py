"""The tray and window icons, drawn with QPainter: one look per gateway state.

running: teal disc with a white dorsal fin; paused: grey disc with pause
bars; error: red disc with an exclamation mark. Drawn at several sizes so
tray hosts pick a crisp one.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPixmap

from orca_desktop.gui._style import ACCENT, BAD

STATE_COLORS = {"running": ACCENT, "paused": "#7b8794", "stopped": "#7b8794", "error": BAD}
SIZES = (16, 22, 24, 32, 48, 64, 128)


def _fin(size: float) -> QPainterPath:
    def p(x: float, y: float) -> QPointF:
        return QPointF(x * size, y * size)

    path = QPainterPath(p(0.24, 0.74))
    path.cubicTo(p(0.42, 0.62), p(0.55, 0.40), p(0.60, 0.18))
    path.cubicTo(p(0.66, 0.40), p(0.70, 0.60), p(0.80, 0.74))
    path.closeSubpath()
    return path


def state_pixmap(state: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(STATE_COLORS.get(state, ACCENT)))
    margin = max(0.5, size * 0.03)
    p.drawEllipse(QRectF(margin, margin, size - 2 * margin, size - 2 * margin))
    p.setBrush(QBrush(Qt.GlobalColor.white))
    s = float(size)
    if state in ("paused", "stopped"):
        w, h, top = 0.13 * s, 0.42 * s, 0.29 * s
        p.drawRoundedRect(QRectF(0.33 * s, top, w, h), w / 3, w / 3)
        p.drawRoundedRect(QRectF(0.54 * s, top, w, h), w / 3, w / 3)
    elif state == "error":
        w = 0.14 * s
        p.drawRoundedRect(QRectF(0.5 * s - w / 2, 0.2 * s, w, 0.40 * s), w / 2, w / 2)
        p.drawEllipse(QRectF(0.5 * s - w / 2, 0.66 * s, w, w))
    else:
        p.drawPath(_fin(s))
        p.drawRoundedRect(QRectF(0.18 * s, 0.72 * s, 0.64 * s, 0.07 * s), 0.03 * s, 0.03 * s)
    p.end()
    return pixmap


def state_icon(state: str) -> QIcon:
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(state_pixmap(state, size))
    return icon
