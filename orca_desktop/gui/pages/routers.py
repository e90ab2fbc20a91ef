"""The Routers page: the reference model savings are measured against, and named routers.

A named router `NAME` is reachable as model `orcarouter/NAME`. Edits are
validated with the `Config` model and saved through `core.save_config`; rules
of a `rules` router are kept as they are (they are edited in the file).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orca_desktop.config import Config
from orca_desktop.gui._async import run_task
from orca_desktop.gui._core import CoreLike
from orca_desktop.gui.pages._common import StatusLine, page_layout

STRATEGIES = ("cheapest", "fallback", "fastest", "rules")


def validation_message(exc: ValidationError) -> str:
    """One readable line per problem, naming the field."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class RoutersPage(QWidget):
    """Reference model and a table of named routers (name, strategy, models)."""

    def __init__(self, core: CoreLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core
        layout = page_layout(
            self,
            "Routers",
            'Send model "auto" to let Orca pick the cheapest capable model, or define your '
            'own routers below and call them as "orcarouter/NAME".',
        )
        reference_box = QGroupBox("Savings")
        form = QFormLayout(reference_box)
        self.reference_edit = QLineEdit()
        self.reference_edit.setPlaceholderText("gpt-4o")
        form.addRow("Reference model", self.reference_edit)
        layout.addWidget(reference_box)

        routers_box = QGroupBox("Named routers")
        inner = QVBoxLayout(routers_box)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(
            ["Name", "Strategy", "Models, in order (comma-separated)"]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(34)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 150)
        self.table.setColumnWidth(1, 130)
        inner.addWidget(self.table)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add router")
        self.add_button.clicked.connect(lambda: self.add_router("", "cheapest", []))
        self.remove_button = QPushButton("Remove selected")
        self.remove_button.clicked.connect(self.remove_selected)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        inner.addLayout(row)
        layout.addWidget(routers_box, 1)

        actions = QHBoxLayout()
        self.save_button = QPushButton("Save routers")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.load)
        self.status = StatusLine()
        actions.addWidget(self.save_button)
        actions.addWidget(self.revert_button)
        actions.addWidget(self.status, 1)
        layout.addLayout(actions)
        self.load()

    def load(self) -> None:
        """Show the core's current config."""
        cfg = self._core.config
        self.reference_edit.setText(cfg.routing.reference_model)
        self.table.setRowCount(0)
        for name, router in cfg.routers.items():
            self.add_router(name, router.strategy, router.models)
        self.status.say("")

    def add_router(self, name: str, strategy: str, models: list[str]) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(name))
        combo = QComboBox()
        combo.addItems(STRATEGIES)
        combo.setCurrentText(strategy)
        self.table.setCellWidget(row, 1, combo)
        self.table.setItem(row, 2, QTableWidgetItem(", ".join(models)))
        item = self.table.item(row, 0)
        if not name and item is not None:
            self.table.setCurrentCell(row, 0)
            self.table.editItem(item)

    def remove_selected(self) -> None:
        for index in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(index)

    def edited_config(self) -> Config:
        """The core's config with this page's edits; raises ValueError or ValidationError."""
        current = self._core.config
        routers: dict[str, Any] = {}
        for row in range(self.table.rowCount()):
            name_item, models_item = self.table.item(row, 0), self.table.item(row, 2)
            name = name_item.text().strip() if name_item else ""
            if not name:
                raise ValueError(f"router in row {row + 1} has no name")
            if name in routers:
                raise ValueError(f"router name {name!r} is used twice")
            combo = self.table.cellWidget(row, 1)
            strategy = combo.currentText() if isinstance(combo, QComboBox) else "cheapest"
            text = models_item.text() if models_item else ""
            models = [m.strip() for m in text.split(",") if m.strip()]
            kept = current.routers.get(name)
            extra = kept.model_dump(exclude={"strategy", "models"}) if kept else {}
            routers[name] = {**extra, "strategy": strategy, "models": models}
        data = current.model_dump()
        data["routers"] = routers
        data["routing"]["reference_model"] = self.reference_edit.text().strip() or "gpt-4o"
        return Config.model_validate(data)

    def save(self) -> None:
        try:
            cfg = self.edited_config()
        except ValidationError as exc:
            self.status.say(f"Not saved: {validation_message(exc)}", ok=False)
            return
        except ValueError as exc:
            self.status.say(f"Not saved: {exc}", ok=False)
            return
        self.save_button.setEnabled(False)
        self.status.say("Saving…")
        run_task(
            self,
            self._core.save_config(cfg),
            name="gui-save-routers",
            on_done=lambda _: self._after("Saved. New requests use these routers.", True),
            on_error=lambda exc: self._after(f"Not saved: {exc}", False),
        )

    def _after(self, message: str, ok: bool) -> None:
        self.save_button.setEnabled(True)
        self.status.say(message, ok=ok)
