"""The window's palette and style sheet: one place for colours, spacing and fonts."""

from __future__ import annotations

from PySide6.QtGui import QColor

INK = "#1d2733"
MUTED = "#6a7686"
LINE = "#dde3ea"
PAPER = "#f4f6f9"
CARD = "#ffffff"
ACCENT = "#0e8f87"
ACCENT_DARK = "#0a6f69"
SIDEBAR = "#17212c"
SIDEBAR_TEXT = "#c9d3de"
GOOD = "#1f9d55"
WARN = "#c98a00"
BAD = "#d64545"
SAVINGS = "#2f7ed8"
DEMO_BG = "#fff3cf"
DEMO_LINE = "#e3b341"

ERROR_COLOR = QColor(BAD)
WARN_COLOR = QColor(WARN)
MUTED_COLOR = QColor(MUTED)

STYLE_SHEET = f"""
QMainWindow, QWidget#page {{ background: {PAPER}; }}
QWidget {{ color: {INK}; font-size: 10pt; }}
QListWidget#sidebar {{
    background: {SIDEBAR}; border: none; padding-top: 10px; outline: none;
}}
QListWidget#sidebar::item {{
    color: {SIDEBAR_TEXT}; padding: 9px 16px; margin: 1px 8px; border-radius: 6px;
}}
QListWidget#sidebar::item:selected {{ background: {ACCENT}; color: white; }}
QListWidget#sidebar::item:hover:!selected {{ background: #243140; }}
QLabel#brand {{
    background: {SIDEBAR}; color: white; font-size: 13pt; font-weight: 600;
    padding: 16px 18px 4px 18px;
}}
QLabel#brandSub {{
    background: {SIDEBAR}; color: {SIDEBAR_TEXT}; padding: 0 18px 8px 18px; font-size: 8.5pt;
}}
QLabel#pageTitle {{ font-size: 15pt; font-weight: 600; }}
QLabel#pageIntro {{ color: {MUTED}; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#cardLabel {{ color: {MUTED}; font-size: 8.5pt; font-weight: 600; letter-spacing: 0.5px; }}
QLabel#cardValue {{ font-size: 17pt; font-weight: 600; }}
QLabel#cardSub {{ color: {MUTED}; font-size: 8.5pt; }}
QFrame#card {{ background: {CARD}; border: 1px solid {LINE}; border-radius: 8px; }}
QFrame#banner {{ border-radius: 6px; }}
QFrame#banner[kind="demo"] {{ background: {DEMO_BG}; border: 1px solid {DEMO_LINE}; }}
QFrame#banner[kind="warn"] {{ background: #fdecea; border: 1px solid #efb3ae; }}
QFrame#banner[kind="info"] {{ background: #e7f4f3; border: 1px solid #a9d8d4; }}
QFrame#welcome {{ background: {CARD}; border: 1px solid {LINE}; border-radius: 8px; }}
QLabel#welcomeTitle {{ font-size: 13pt; font-weight: 600; }}
QTableView, QTableWidget {{
    background: {CARD}; border: 1px solid {LINE}; border-radius: 6px;
    gridline-color: transparent; selection-background-color: #d6efed; selection-color: {INK};
    alternate-background-color: #f8fafb;
}}
QHeaderView::section {{
    background: {CARD}; color: {MUTED}; border: none; border-bottom: 1px solid {LINE};
    padding: 6px 8px; font-weight: 600; font-size: 8.5pt;
}}
QTextBrowser {{ background: {CARD}; border: 1px solid {LINE}; border-radius: 6px; padding: 6px; }}
QPlainTextEdit#snippet {{
    background: #1f2a36; color: #e6edf3; border: none; border-radius: 6px; padding: 8px;
    font-family: "DejaVu Sans Mono", monospace; font-size: 9pt;
}}
QPushButton {{
    background: {CARD}; border: 1px solid #c5ced8; border-radius: 6px; padding: 6px 14px;
}}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:disabled {{ color: #a3adb8; border-color: {LINE}; }}
QPushButton#primary {{
    background: {ACCENT}; border-color: {ACCENT}; color: white; font-weight: 600;
}}
QPushButton#primary:hover {{ background: {ACCENT_DARK}; }}
QPushButton#primary:disabled {{ background: #9fcfcb; border-color: #9fcfcb; }}
QPushButton#danger {{ color: {BAD}; }}
QLineEdit, QComboBox {{
    background: {CARD}; border: 1px solid #c5ced8; border-radius: 5px; padding: 5px 7px;
}}
QAbstractSpinBox {{ min-height: 26px; }}
QLineEdit:focus, QComboBox:focus {{ border-color: {ACCENT}; }}
QGroupBox {{
    background: {CARD}; border: 1px solid {LINE}; border-radius: 8px; margin-top: 14px;
    padding: 14px 12px 10px 12px;
    font-weight: 600;
}}
QGroupBox::title {{ subcontrol-origin: margin; left: 12px; padding: 0 4px; color: {MUTED}; }}
QStatusBar {{ background: {CARD}; border-top: 1px solid {LINE}; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 3px 12px; font-size: 9pt; }}
QSplitter::handle {{ background: transparent; }}
QTabWidget::pane {{ border: none; }}
"""
