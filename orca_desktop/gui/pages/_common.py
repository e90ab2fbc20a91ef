"""Small building blocks shared by the pages: a titled page layout, a status line and
the Save / Revert row of the editing pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from orca_desktop.gui._style import BAD, GOOD, MUTED


def page_layout(page: QWidget, title: str, intro: str) -> QVBoxLayout:
    """Give `page` the standard margins, a title and an introductory line."""
    page.setObjectName("page")
    layout = QVBoxLayout(page)
    layout.setContentsMargins(24, 20, 24, 20)
    layout.setSpacing(12)
    heading = QLabel(title)
    heading.setObjectName("pageTitle")
    text = QLabel(intro)
    text.setObjectName("pageIntro")
    text.setWordWrap(True)
    layout.addWidget(heading)
    layout.addWidget(text)
    return layout


class StatusLine(QLabel):
    """One line of feedback after an action: neutral, success or failure."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(self.textInteractionFlags())

    def say(self, text: str, *, ok: bool | None = None) -> None:
        color = MUTED if ok is None else (GOOD if ok else BAD)
        self.setStyleSheet(f"color: {color};")
        self.setText(text)


@dataclass(frozen=True, slots=True)
class SaveRow:
    """A page's primary Save button, its Revert button and the status line beside them."""

    layout: QHBoxLayout
    save: QPushButton
    revert: QPushButton
    status: StatusLine


def save_row(
    save_label: str, on_save: Callable[[], object], on_revert: Callable[[], object]
) -> SaveRow:
    save = QPushButton(save_label)
    save.setObjectName("primary")
    save.clicked.connect(on_save)
    revert = QPushButton("Revert")
    revert.clicked.connect(on_revert)
    status = StatusLine()
    layout = QHBoxLayout()
    layout.addWidget(save)
    layout.addWidget(revert)
    layout.addWidget(status, 1)
    return SaveRow(layout, save, revert, status)
