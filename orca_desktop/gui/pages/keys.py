"""The Keys page: where each provider's key comes from; add, replace, delete and test keys.

A key is typed into a masked field and handed to `core.save_key`; the field is
cleared at once and the key is never shown again — the table only says where
a key lives. Every keyring operation goes through the Core's async methods,
never from a slot directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orca_desktop.gui._async import run_task
from orca_desktop.gui._core import CoreLike, KeyTestLike, ProviderStateLike
from orca_desktop.gui._style import GOOD, MUTED_COLOR
from orca_desktop.gui.pages._common import StatusLine, page_layout

STATE_TEXT = {
    "keyring": "In keyring",
    "env": "From environment",
    "missing": "Missing",
    "local": "Local, no key needed",
}


def env_var(provider: str) -> str:
    return "ORCA_KEY_" + provider.upper().replace("-", "_")


class KeysPage(QWidget):
    """Provider table plus an add/replace/delete/test form for the selected provider."""

    def __init__(self, core: CoreLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core
        self._states: list[ProviderStateLike] = []
        layout = page_layout(
            self,
            "Provider keys",
            "Keys live in your operating system's keyring, never in a file. After you save a "
            "key it is never shown again. Headless: set ORCA_KEY_<PROVIDER> instead, or run "
            "`orca-desktop keys set openai` in a terminal.",
        )
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Provider", "Kind", "Key"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        layout.addWidget(self.table, 1)
        layout.addWidget(self._build_form())
        self.refresh()

    def _build_form(self) -> QGroupBox:
        box = QGroupBox("Add or replace a key")
        form = QVBoxLayout(box)
        form.setSpacing(8)
        row = QHBoxLayout()
        self.provider_box = QComboBox()
        self.provider_box.setMinimumWidth(200)
        self.provider_box.currentIndexChanged.connect(self._update_buttons)
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("Paste the API key")
        self.key_edit.setClearButtonEnabled(True)
        self.key_edit.textChanged.connect(self._update_buttons)
        self.key_edit.returnPressed.connect(self.save_key)
        row.addWidget(QLabel("Provider"))
        row.addWidget(self.provider_box)
        row.addWidget(self.key_edit, 1)
        form.addLayout(row)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save key")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save_key)
        self.test_button = QPushButton("Test")
        self.test_button.clicked.connect(self.test_key)
        self.delete_button = QPushButton("Delete key")
        self.delete_button.setObjectName("danger")
        self.delete_button.clicked.connect(self.delete_key)
        self.status = StatusLine()
        for button in (self.save_button, self.test_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addWidget(self.status, 1)
        form.addLayout(buttons)
        return box

    # -- state -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read provider states from the core (memory only, no keyring call)."""
        current = self.selected_provider()
        self._states = list(self._core.provider_states())
        self._fill_table(self._states)
        keyed = [p for p in self._states if p.state != "local"]
        self.provider_box.blockSignals(True)
        self.provider_box.clear()
        for p in keyed:
            self.provider_box.addItem(p.label, p.id)
        index = self.provider_box.findData(current) if current else -1
        self.provider_box.setCurrentIndex(max(index, 0))
        self.provider_box.blockSignals(False)
        self._update_buttons()

    def _fill_table(self, states: Sequence[ProviderStateLike]) -> None:
        self.table.setRowCount(len(states))
        for row, p in enumerate(states):
            name = QTableWidgetItem(p.label)
            name.setData(Qt.ItemDataRole.UserRole, p.id)
            name.setToolTip(p.id)
            state = STATE_TEXT.get(p.state, p.state)
            if p.state == "env":
                state += f" ({env_var(p.id)})"
            key = QTableWidgetItem(("●  " if p.state != "missing" else "○  ") + state)
            if p.state == "missing":
                key.setForeground(MUTED_COLOR)
            else:
                key.setForeground(QColor(GOOD))
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, QTableWidgetItem(p.kind))
            self.table.setItem(row, 2, key)

    def selected_provider(self) -> str | None:
        data = self.provider_box.currentData()
        return str(data) if data else None

    def state_of(self, provider: str) -> str | None:
        return next((p.state for p in self._states if p.id == provider), None)

    def _on_table_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        item = self.table.item(rows[0].row(), 0)
        index = self.provider_box.findData(item.data(Qt.ItemDataRole.UserRole)) if item else -1
        if index >= 0:
            self.provider_box.setCurrentIndex(index)

    def _update_buttons(self) -> None:
        provider = self.selected_provider()
        state = self.state_of(provider) if provider else None
        self.save_button.setEnabled(bool(provider) and bool(self.key_edit.text()))
        self.save_button.setText("Replace key" if state == "keyring" else "Save key")
        self.test_button.setEnabled(state in ("keyring", "env"))
        self.delete_button.setEnabled(state == "keyring")
        self.delete_button.setToolTip(
            f"This key comes from {env_var(provider)}; unset the variable to remove it."
            if provider and state == "env"
            else ""
        )

    def _busy(self, busy: bool) -> None:
        for w in (self.save_button, self.test_button, self.delete_button, self.provider_box):
            w.setEnabled(not busy)
        if not busy:
            self._update_buttons()

    # -- actions ---------------------------------------------------------------------------

    def save_key(self) -> None:
        provider = self.selected_provider()
        key = self.key_edit.text().strip()
        self.key_edit.clear()  # the key leaves the widget at once, whatever happens next
        if not provider or not key:
            self.status.say("Choose a provider and paste a key first.", ok=False)
            return
        self._busy(True)
        self.status.say(f"Saving the {provider} key to the keyring…")
        run_task(
            self,
            self._core.save_key(provider, key),
            name=f"gui-save-key-{provider}",
            on_done=lambda _: self._after(f"Saved the {provider} key in the keyring.", True),
            on_error=lambda exc: self._after(f"Could not save the {provider} key: {exc}", False),
        )
        del key

    def delete_key(self) -> None:
        provider = self.selected_provider()
        if not provider:
            return
        self._busy(True)
        run_task(
            self,
            self._core.delete_key(provider),
            name=f"gui-delete-key-{provider}",
            on_done=lambda _: self._after(f"Deleted the {provider} key.", True),
            on_error=lambda exc: self._after(f"Could not delete the {provider} key: {exc}", False),
        )

    def test_key(self) -> None:
        provider = self.selected_provider()
        if not provider:
            return
        self._busy(True)
        self.status.say(f"Testing the {provider} key…")
        run_task(
            self,
            self._core.test_key(provider),
            name=f"gui-test-key-{provider}",
            on_done=lambda result: self._after_test(provider, result),
            on_error=lambda exc: self._after(f"Could not test the {provider} key: {exc}", False),
        )

    def _after(self, message: str, ok: bool) -> None:
        self._busy(False)
        self.refresh()
        self.status.say(message, ok=ok)

    def _after_test(self, provider: str, result: KeyTestLike) -> None:
        verdict = "works" if result.ok else "failed"
        self._after(f"{provider} key {verdict}: {result.message}", result.ok)
