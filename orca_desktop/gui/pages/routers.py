"""The Routers page: the reference model savings are measured against, and named routers.

A named router `NAME` is reachable as model `orcarouter/NAME`. Its models (or,
for `strategy = "rules"`, its rules and default) are picked from the catalog
the core knows, and any id may still be typed. Every edit is checked at once
with the core's own validation (`core.check_config`: the catalog and router
the engine would build), so an unknown id or a router cycle is shown where it
was made; a rejected config is never written. Saving goes through
`core.save_config` (atomic) and applies to the next request.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orca_desktop.config import Config, ConfigError
from orca_desktop.gui._async import run_task
from orca_desktop.gui._core import CoreLike
from orca_desktop.gui._style import BAD, ERROR_COLOR
from orca_desktop.gui.pages._common import page_layout, save_row
from orca_desktop.gui.pages._rules_editor import (
    RouterDraft,
    RuleDraft,
    RulesEditor,
    mark_invalid,
    model_completer,
)

STRATEGIES = ("cheapest", "fallback", "fastest", "rules")
STRATEGY_HINTS = {
    "cheapest": "Tries these models cheapest first for each request (by its estimated cost).",
    "fallback": "Tries these models in this order; the next one when a call fails.",
    "fastest": "Tries these models quickest first (measured time to first token).",
    "rules": "Sends each request where the first matching rule says.",
}
_ROUTER_IN_MESSAGE = re.compile(r"^\[routers\.(.+?)\]: ")


def validation_message(exc: ValidationError) -> str:
    """One readable line per problem, naming the field."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def error_label() -> QLabel:
    """A red, wrapping line for a field's problem; hidden while empty."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {BAD};")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_error(label: QLabel, message: str | None) -> None:
    label.setText(message or "")
    label.setVisible(bool(message))


class ModelsEditor(QWidget):
    """The ordered models of a cheapest / fallback / fastest router.

    An id is added only when the core's catalog knows it; otherwise the
    engine's reason (with close matches) is shown under the field at once.
    """

    changed = Signal()

    def __init__(self, core: CoreLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core
        self._draft: RouterDraft | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        body = QHBoxLayout()
        self.list = QListWidget()
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.model().rowsMoved.connect(self._store)
        body.addWidget(self.list, 1)
        side = QVBoxLayout()
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.remove_button = QPushButton("Remove")
        for button in (self.up_button, self.down_button, self.remove_button):
            side.addWidget(button)
        side.addStretch(1)
        body.addLayout(side)
        layout.addLayout(body, 1)
        add_row = QHBoxLayout()
        self.input = QLineEdit()
        self.input.setPlaceholderText("Add a model: type to search the catalog, or provider/model")
        self.input.setCompleter(model_completer(core.model_ids(), self.input))
        self.add_button = QPushButton("Add model")
        add_row.addWidget(self.input, 1)
        add_row.addWidget(self.add_button)
        layout.addLayout(add_row)
        self.error = error_label()
        layout.addWidget(self.error)
        self.add_button.clicked.connect(self.add_typed)
        self.input.returnPressed.connect(self.add_typed)
        self.input.textEdited.connect(lambda _: self._say(None))
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        self.remove_button.clicked.connect(self._remove)

    def bind(self, draft: RouterDraft) -> None:
        self._draft = draft
        self.list.clear()
        self.list.addItems(draft.models)
        self.input.clear()
        self._say(None)

    def add_typed(self) -> None:
        """Add the typed id if the catalog knows it; else say why, and keep the text."""
        model_id = self.input.text().strip()
        if not model_id or self._draft is None:
            return
        problem = self._core.model_id_error(model_id)
        if problem is None and model_id in self._draft.models:
            problem = f"{model_id!r} is already in this router"
        if problem is not None:
            self._say(problem)
            return
        self.list.addItem(model_id)
        self.input.clear()
        self._say(None)
        self._store()

    def _say(self, problem: str | None) -> None:
        mark_invalid(self.input, problem)
        show_error(self.error, problem)

    def _move(self, step: int) -> None:
        row = self.list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(target, item)
        self.list.setCurrentRow(target)
        self._store()

    def _remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self._store()

    def _store(self, *_: object) -> None:
        if self._draft is not None:
            self._draft.models = [self.list.item(i).text() for i in range(self.list.count())]
            self.changed.emit()


class RouterEditor(QWidget):
    """Name, strategy, and either the models list or the rules of the selected router."""

    changed = Signal()
    renamed = Signal(str, str)

    def __init__(self, core: CoreLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._draft: RouterDraft | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. coding — called as orcarouter/coding")
        self.strategy_combo = QComboBox()
        self.strategy_combo.addItems(STRATEGIES)
        form.addRow("Name", self.name_edit)
        form.addRow("Strategy", self.strategy_combo)
        layout.addLayout(form)
        self.hint = QLabel()
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.stack = QStackedWidget()
        self.models = ModelsEditor(core)
        self.rules = RulesEditor()
        self.stack.addWidget(self.models)
        self.stack.addWidget(self.rules)
        layout.addWidget(self.stack, 1)
        self.error = error_label()
        layout.addWidget(self.error)
        self.name_edit.editingFinished.connect(self._on_name)
        self.strategy_combo.currentTextChanged.connect(self._on_strategy)
        self.models.changed.connect(self.changed.emit)
        self.rules.changed.connect(self.changed.emit)

    @property
    def draft(self) -> RouterDraft | None:
        return self._draft

    def bind(self, draft: RouterDraft, targets: list[str]) -> None:
        """Edit `draft`; rule targets are offered from `targets`."""
        self._draft = None  # no write-backs while the fields are filled
        self.name_edit.setText(draft.name)
        self.strategy_combo.setCurrentText(draft.strategy)
        self.models.bind(draft)
        self.rules.bind(draft, targets)
        self._draft = draft
        self._show_strategy(draft.strategy)

    def _on_name(self) -> None:
        draft = self._draft
        name = self.name_edit.text().strip()
        if draft is not None and name != draft.name:
            old, draft.name = draft.name, name
            self.renamed.emit(old, name)
            self.changed.emit()

    def _on_strategy(self, strategy: str) -> None:
        if self._draft is not None and strategy != self._draft.strategy:
            self._draft.strategy = strategy
            self._show_strategy(strategy)
            self.changed.emit()

    def _show_strategy(self, strategy: str) -> None:
        self.stack.setCurrentWidget(self.rules if strategy == "rules" else self.models)
        self.hint.setText(STRATEGY_HINTS.get(strategy, ""))

    def show_problem(self, message: str | None) -> None:
        """The engine's objection to this router, with the fields it names outlined."""
        show_error(self.error, message)
        for picker in self.rules.pickers():
            text = picker.text()
            named = bool(message and text and repr(text) in message)
            mark_invalid(picker, message if named else None)
        mark_invalid(self.name_edit, message if message and "has no name" in message else None)


class RoutersPage(QWidget):
    """Reference model, the list of named routers, and an editor for the selected one."""

    def __init__(self, core: CoreLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core
        self._model_ids = core.model_ids()
        self.drafts: list[RouterDraft] = []
        layout = page_layout(
            self,
            "Routers",
            'Send model "auto" to let Orca pick the cheapest capable model, or define your '
            'own routers below and call them as "orcarouter/NAME".',
        )
        layout.addWidget(self._reference_box())
        layout.addWidget(self._routers_box(), 1)
        actions = save_row("Save routers", self.save, self.load)
        self.save_button, self.revert_button = actions.save, actions.revert
        self.status = actions.status
        layout.addLayout(actions.layout)
        self.load()

    def _reference_box(self) -> QGroupBox:
        box = QGroupBox("Savings")
        form = QFormLayout(box)
        self.reference_edit = QLineEdit()
        self.reference_edit.setPlaceholderText("gpt-4o")
        self.reference_edit.setCompleter(model_completer(self._model_ids, self.reference_edit))
        self.reference_edit.editingFinished.connect(self.check)
        self.reference_error = error_label()
        form.addRow("Reference model", self.reference_edit)
        form.addRow("", self.reference_error)
        return box

    def _routers_box(self) -> QGroupBox:
        box = QGroupBox("Named routers")
        outer = QVBoxLayout(box)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Name", "Strategy", "Sends requests to"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 110)
        self.table.setColumnWidth(1, 80)
        self.table.currentCellChanged.connect(lambda row, *_: self._select(row))
        column.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add router")
        self.add_button.clicked.connect(lambda: self.add_router("", "cheapest", []))
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        self.editor = RouterEditor(self._core)
        self.editor.changed.connect(self._on_edit)
        self.editor.renamed.connect(self._on_rename)
        self.placeholder = QLabel("Add a router, or select one to edit it.")
        self.placeholder.setObjectName("muted")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.right = QStackedWidget()
        self.right.addWidget(self.placeholder)
        self.right.addWidget(self.editor)
        splitter.addWidget(left)
        splitter.addWidget(self.right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([330, 670])
        outer.addWidget(splitter)
        return box

    # -- loading and editing -------------------------------------------------

    def load(self) -> None:
        """Show the core's current config, dropping unsaved edits."""
        cfg = self._core.config
        self.reference_edit.setText(cfg.routing.reference_model)
        self.drafts = [RouterDraft.from_config(n, r) for n, r in cfg.routers.items()]
        self._fill_table()
        self.table.setCurrentCell(0 if self.drafts else -1, 0)
        self._select(self.table.currentRow())
        self.check()
        self.status.say("")

    def add_router(
        self,
        name: str,
        strategy: str,
        models: list[str],
        *,
        rules: list[RuleDraft] | None = None,
        default: str | None = None,
    ) -> RouterDraft:
        """Append a router and select it, ready to edit."""
        draft = RouterDraft(name, strategy, list(models), list(rules or []), default)
        self.drafts.append(draft)
        self._fill_table()
        self.table.setCurrentCell(len(self.drafts) - 1, 0)
        if not name:
            self.editor.name_edit.setFocus()
        self.check()
        return draft

    def remove_selected(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.drafts):
            del self.drafts[row]
            self._fill_table()
            self.table.setCurrentCell(min(row, len(self.drafts) - 1), 0)
            self._select(self.table.currentRow())
            self.check()

    def select_router(self, name: str) -> None:
        for row, draft in enumerate(self.drafts):
            if draft.name == name:
                self.table.setCurrentCell(row, 0)

    def _select(self, row: int) -> None:
        if 0 <= row < len(self.drafts):
            draft = self.drafts[row]
            self.editor.bind(draft, self._targets_for(draft))
            self.right.setCurrentWidget(self.editor)
            self.check()
        else:
            self.right.setCurrentWidget(self.placeholder)

    def _targets_for(self, draft: RouterDraft) -> list[str]:
        """What a rule of `draft` may send to: auto, the other routers, then catalog ids."""
        others = [f"orcarouter/{d.name}" for d in self.drafts if d is not draft and d.name]
        return ["auto", *others, *self._model_ids]

    def _fill_table(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.drafts))
        for row, draft in enumerate(self.drafts):
            self._fill_row(row, draft)
        self.table.blockSignals(False)

    def _fill_row(self, row: int, draft: RouterDraft) -> None:
        values = (draft.name or "(unnamed)", draft.strategy, draft.summary())
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.table.setItem(row, column, item)

    def _on_edit(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.drafts):
            self._fill_row(row, self.drafts[row])
        self.check()

    def _on_rename(self, old: str, new: str) -> None:
        if old and new:
            for draft in self.drafts:
                draft.retarget(old, new)
        self._fill_table()

    # -- checking and saving -------------------------------------------------

    def edited_config(self) -> Config:
        """The core's config with this page's edits; raises ValueError or ValidationError."""
        routers: dict[str, Any] = {}
        for row, draft in enumerate(self.drafts, start=1):
            name = draft.name.strip()
            if not name:
                raise ValueError(f"router in row {row} has no name")
            if name in routers:
                raise ValueError(f"router name {name!r} is used twice")
            for number, rule in enumerate(draft.rules if draft.strategy == "rules" else [], 1):
                if not rule.use.strip():
                    raise ValueError(f"[routers.{name}]: rule {number} has no target")
            routers[name] = draft.to_data()
        data = self._core.config.model_dump()
        data["routers"] = routers
        data["routing"]["reference_model"] = self.reference_edit.text().strip() or "gpt-4o"
        return Config.model_validate(data)

    def check(self) -> Config | None:
        """The edited config if the core would accept it; otherwise None, with the
        problem shown beside what caused it. Writes nothing."""
        reference = self.reference_edit.text().strip() or "gpt-4o"
        reference_problem = self._core.reference_model_error(reference)
        show_error(
            self.reference_error,
            f"{reference_problem} (savings are measured against this model)"
            if reference_problem
            else None,
        )
        mark_invalid(self.reference_edit, reference_problem)
        try:
            cfg = self._core.check_config(self.edited_config())
        except ValidationError as exc:
            self._show_problem(validation_message(exc))
            return None
        except (ValueError, ConfigError) as exc:
            self._show_problem(str(exc))
            return None
        if reference_problem:
            self._show_problem(f"reference model: {reference_problem}")
            return None
        self._show_problem(None)
        unsaved = cfg != self._core.config
        self.status.say("Unsaved changes." if unsaved else "")
        return cfg

    def _show_problem(self, message: str | None) -> None:
        """Say `message` in the status line, beside the router it names and in its row."""
        if message:
            self.status.say(f"Not saved: {message}", ok=False)
        match = _ROUTER_IN_MESSAGE.match(message or "")
        culprit = match.group(1) if match else None
        unnamed = message is not None and "has no name" in message
        for row, draft in enumerate(self.drafts):
            bad = draft.name == culprit or (unnamed and not draft.name.strip())
            for column in range(self.table.columnCount()):
                item = self.table.item(row, column)
                if item is not None:
                    item.setForeground(QBrush(ERROR_COLOR) if bad else QBrush())
        current = self.editor.draft
        mine = current is not None and (
            current.name == culprit or (unnamed and not current.name.strip())
        )
        self.editor.show_problem(message if mine else None)

    def save(self) -> None:
        cfg = self.check()
        if cfg is None:
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
