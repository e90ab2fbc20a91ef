"""The rules editor of a `strategy = "rules"` router, and the model pickers the Routers page shares.

A rules router tries its rules in order; the first whose condition holds sends
the request to its target (a model id, `auto` or `orcarouter/NAME`), and the
default target takes what no rule matches. This module edits a `RouterDraft`
in place and says when it changed; it never validates against the catalog or
saves (the page does both through the core).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from orca_desktop.config import RouterConfig
from orca_desktop.gui._style import BAD

CONDITIONS: dict[str, str] = {
    "has_tools": "request has tools",
    "has_images": "request has images",
    "reasoning": "request wants reasoning",
    "long_context": "prompt has at least",
    "always": "always",
}
"""Rule conditions (config `when` values) and how the editor words them."""

DEFAULT_LONG_CONTEXT_TOKENS = 32_000  # the engine's threshold when min_tokens is unset
INVALID_STYLE = f"border: 1px solid {BAD}; border-radius: 4px; padding: 4px 8px;"


@dataclass
class RuleDraft:
    """One rule being edited: `when` holds → `use`; `min_tokens` only for long_context."""

    when: str = "has_tools"
    use: str = ""
    min_tokens: int | None = None


@dataclass
class RouterDraft:
    """A named router being edited; both the models list and the rules are kept while the
    strategy is switched back and forth, and only the strategy's own part is saved."""

    name: str
    strategy: str = "cheapest"
    models: list[str] = field(default_factory=list)
    rules: list[RuleDraft] = field(default_factory=list)
    default: str | None = None

    @classmethod
    def from_config(cls, name: str, cfg: RouterConfig) -> RouterDraft:
        rules = [RuleDraft(r.when, r.use, r.min_tokens) for r in cfg.rules]
        return cls(name, cfg.strategy, list(cfg.models), rules, cfg.default)

    def to_data(self) -> dict[str, Any]:
        """The `[routers.NAME]` table this draft saves as (validated by the caller)."""
        if self.strategy != "rules":
            return {"strategy": self.strategy, "models": list(self.models)}
        rules = []
        for rule in self.rules:
            item: dict[str, Any] = {"when": rule.when, "use": rule.use.strip()}
            if rule.when == "long_context" and rule.min_tokens is not None:
                item["min_tokens"] = rule.min_tokens
            rules.append(item)
        data: dict[str, Any] = {"strategy": "rules", "rules": rules}
        default = (self.default or "").strip()
        if default:
            data["default"] = default
        return data

    def summary(self) -> str:
        """One line for the routers table: where this router sends requests."""
        if self.strategy == "rules":
            parts = [f"{_short_condition(r)} → {r.use or '?'}" for r in self.rules]
            parts.append(f"else {self.default or 'auto'}")
            return "; ".join(parts)
        joiner = " → " if self.strategy == "fallback" else ", "
        return joiner.join(self.models) or "no models yet"

    def retarget(self, old: str, new: str) -> None:
        """Point references to router `old` at `new` (after a rename)."""
        before, after = f"orcarouter/{old}", f"orcarouter/{new}"
        for rule in self.rules:
            if rule.use == before:
                rule.use = after
        if self.default == before:
            self.default = after


def _short_condition(rule: RuleDraft) -> str:
    if rule.when == "long_context":
        return f"≥{rule.min_tokens or DEFAULT_LONG_CONTEXT_TOKENS} tokens"
    return rule.when.replace("_", " ")


def model_completer(choices: Sequence[str], parent: QWidget) -> QCompleter:
    """A completer over `choices` that matches anywhere in an id, ignoring case."""
    completer = QCompleter(QStringListModel(list(choices), parent), parent)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setMaxVisibleItems(12)
    return completer


def mark_invalid(field: QLineEdit | QComboBox, message: str | None) -> None:
    """Outline a line edit or combo box in red with `message` as its tooltip, or clear both.

    The style goes on the combo box itself: styling the line edit inside it
    clips the text, and the style sheet in force ignores palette colours.
    """
    kind = "QComboBox" if isinstance(field, QComboBox) else "QLineEdit"
    field.setStyleSheet(f"{kind} {{ {INVALID_STYLE} }}" if message else "")
    field.setToolTip(message or "")


class TargetPicker(QComboBox):
    """Where a rule sends a request: pick from the list or type any id ("provider/model").

    `committed` fires when the user finishes typing or picks an entry.
    """

    committed = Signal(str)

    def __init__(self, choices: Sequence[str], text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(15)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)
        self.setCompleter(model_completer([], self))
        self.set_choices(choices, text)
        self.edit.setPlaceholderText("model id, auto or orcarouter/NAME")
        self.edit.editingFinished.connect(self._commit)
        self.textActivated.connect(self._commit)
        self.currentIndexChanged.connect(self._commit)  # e.g. the mouse wheel

    def set_choices(self, choices: Sequence[str], text: str) -> None:
        """Offer `choices` in the list and the completer; show `text`. Emits nothing."""
        blocked = self.blockSignals(True)
        self.clear()
        self.addItems(list(choices))
        completer = self.completer()
        model = completer.model() if completer is not None else None
        if isinstance(model, QStringListModel):
            model.setStringList(list(choices))
        self.edit.setText(text)
        self.blockSignals(blocked)

    @property
    def edit(self) -> QLineEdit:
        line = self.lineEdit()
        assert line is not None  # editable combos always have one
        return line

    def text(self) -> str:
        return self.edit.text().strip()

    def _commit(self, *_: object) -> None:
        self.committed.emit(self.text())


class RuleRow(QFrame):
    """One rule: "If <condition> [tokens] use <target>" with move and remove buttons."""

    changed = Signal()
    moved = Signal(int)  # -1 up, +1 down
    removed = Signal()

    def __init__(
        self, number: int, rule: RuleDraft, choices: Sequence[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.rule = rule
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        label = QLabel(f"{number}. If")
        label.setMinimumWidth(36)
        self.when_combo = QComboBox()
        for value, text in CONDITIONS.items():
            self.when_combo.addItem(text, value)
        self.when_combo.setCurrentIndex(max(0, self.when_combo.findData(rule.when)))
        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(1, 10_000_000)
        self.tokens_spin.setSingleStep(1000)
        self.tokens_spin.setSuffix(" tokens")
        self.tokens_spin.setFixedWidth(120)
        self.tokens_spin.setValue(rule.min_tokens or DEFAULT_LONG_CONTEXT_TOKENS)
        self.target = TargetPicker(choices, rule.use)
        self.up_button = _small_button("↑", "Move this rule up (rules are tried in order)")
        self.down_button = _small_button("↓", "Move this rule down")
        self.remove_button = _small_button("✕", "Remove this rule")
        for widget in (label, self.when_combo, self.tokens_spin, QLabel("use"), self.target):
            layout.addWidget(widget)
        layout.setStretchFactor(self.target, 1)
        for button in (self.up_button, self.down_button, self.remove_button):
            layout.addWidget(button)
        self._show_tokens()
        self.when_combo.currentIndexChanged.connect(self._on_when)
        self.tokens_spin.editingFinished.connect(self._on_tokens)
        self.target.committed.connect(self._on_target)
        self.up_button.clicked.connect(lambda: self.moved.emit(-1))
        self.down_button.clicked.connect(lambda: self.moved.emit(1))
        self.remove_button.clicked.connect(self.removed.emit)

    def _show_tokens(self) -> None:
        self.tokens_spin.setVisible(self.rule.when == "long_context")

    def _on_when(self, _index: int) -> None:
        self.rule.when = str(self.when_combo.currentData())
        self._show_tokens()
        self.changed.emit()

    def _on_tokens(self) -> None:
        if self.rule.min_tokens != self.tokens_spin.value():
            self.rule.min_tokens = self.tokens_spin.value()
            self.changed.emit()

    def _on_target(self, text: str) -> None:
        if self.rule.use != text:
            self.rule.use = text
            self.changed.emit()


def _small_button(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setFixedSize(28, 28)
    return button


class RulesEditor(QWidget):
    """The ordered rules of one router plus its default target; edits the draft in place."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._draft: RouterDraft | None = None
        self._choices: list[str] = []
        self.rows: list[RuleRow] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        hint = QLabel("Rules are tried from the top; the first whose condition holds decides.")
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self._holder = QWidget()
        self._holder.setObjectName("page")
        self._rows_layout = QVBoxLayout(self._holder)
        self._rows_layout.setContentsMargins(0, 0, 6, 0)
        self._rows_layout.setSpacing(6)
        self._rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._holder)
        layout.addWidget(scroll, 1)
        self.empty_label = QLabel("No rules yet: every request goes to the default below.")
        self.empty_label.setObjectName("muted")
        self.add_button = QPushButton("Add rule")
        self.add_button.clicked.connect(self.add_rule)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_button)
        add_row.addWidget(self.empty_label)
        add_row.addStretch(1)
        layout.addLayout(add_row)
        default_row = QHBoxLayout()
        default_row.addWidget(QLabel("Otherwise use"))
        self.default_picker = TargetPicker([], "")
        self.default_picker.edit.setPlaceholderText("auto")
        self.default_picker.committed.connect(self._on_default)
        default_row.addWidget(self.default_picker, 1)
        layout.addLayout(default_row)

    def bind(self, draft: RouterDraft, choices: Sequence[str]) -> None:
        """Show `draft`; targets are offered from `choices` (any other id may be typed)."""
        self._draft = draft
        self._choices = list(choices)
        self.default_picker.set_choices(self._choices, draft.default or "")
        self._rebuild()

    def add_rule(self) -> None:
        if self._draft is None:
            return
        self._draft.rules.append(RuleDraft())
        self._rebuild()
        self.rows[-1].target.setFocus()
        self.changed.emit()

    def pickers(self) -> list[TargetPicker]:
        return [row.target for row in self.rows] + [self.default_picker]

    def _rebuild(self) -> None:
        for row in self.rows:
            row.hide()
            row.deleteLater()
        self.rows = []
        rules = self._draft.rules if self._draft is not None else []
        for number, rule in enumerate(rules, start=1):
            row = RuleRow(number, rule, self._choices)
            row.up_button.setEnabled(number > 1)
            row.down_button.setEnabled(number < len(rules))
            row.changed.connect(self.changed.emit)
            row.moved.connect(lambda step, r=rule: self._move(r, step))
            row.removed.connect(lambda r=rule: self._remove(r))
            self._rows_layout.insertWidget(self._rows_layout.count() - 1, row)
            row.show()  # a layout shows new children only later, from the event queue
            self.rows.append(row)
        self.empty_label.setVisible(not rules)

    def _move(self, rule: RuleDraft, step: int) -> None:
        assert self._draft is not None
        rules = self._draft.rules
        i = next(n for n, r in enumerate(rules) if r is rule)
        j = i + step
        if 0 <= j < len(rules):
            rules[i], rules[j] = rules[j], rules[i]
            self._rebuild()
            self.changed.emit()

    def _remove(self, rule: RuleDraft) -> None:
        assert self._draft is not None
        self._draft.rules = [r for r in self._draft.rules if r is not rule]
        self._rebuild()
        self.changed.emit()

    def _on_default(self, text: str) -> None:
        if self._draft is not None and (self._draft.default or "") != text:
            self._draft.default = text or None
            self.changed.emit()
