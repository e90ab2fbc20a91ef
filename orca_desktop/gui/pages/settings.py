"""The Settings page: the port (changed live via `core.set_port`) and the server's limits.

Changing the port restarts the listener without restarting the app; the other
fields are saved with `core.save_config`. The host is shown, not edited: the
gateway listens on loopback unless started with `--host`.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from orca_desktop.config import Config
from orca_desktop.gui._async import run_task
from orca_desktop.gui._core import CoreLike, openai_base_url
from orca_desktop.gui.pages._common import page_layout, save_row
from orca_desktop.gui.pages.routers import validation_message

FIELD_WIDTH = 160
LABEL_WIDTH = 180


def _seconds(maximum: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.5, maximum)
    box.setDecimals(1)
    box.setSuffix(" s")
    return _compact(box)


SpinBox = TypeVar("SpinBox", bound=QAbstractSpinBox)


def _compact(box: SpinBox) -> SpinBox:
    """A number field at a fixed, readable width (Qt's own spin box look: styled ones
    lose their arrows, and without buttons they lose their text)."""
    box.setFixedWidth(FIELD_WIDTH)
    return box


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setMinimumWidth(LABEL_WIDTH)
    return label


def current_port(base_url: str, configured: int) -> int:
    """The port the gateway listens on now (the config may say 0: "any free port")."""
    return urlsplit(base_url).port or configured or 8787


class SettingsPage(QWidget):
    """Port, request size limit, allowed origins and upstream timeouts."""

    def __init__(self, core: CoreLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core
        layout = page_layout(
            self,
            "Settings",
            "Changing the port restarts the gateway's listener; tools pointed at the old port "
            "must be updated (see Connect a tool).",
        )
        server = QGroupBox("Gateway")
        form = QFormLayout(server)
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(10)
        self.url_label = QLabel()
        self.url_label.setObjectName("muted")
        self.host_label = QLabel()
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setGroupSeparatorShown(False)
        _compact(self.port_spin)
        self.body_spin = QDoubleSpinBox()
        self.body_spin.setRange(1, 1024)
        self.body_spin.setDecimals(0)
        self.body_spin.setSuffix(" MB")
        _compact(self.body_spin)
        self.origins_edit = QLineEdit()
        self.origins_edit.setPlaceholderText("none (requests without Origin are always fine)")
        form.addRow(_label("Base URL"), self.url_label)
        form.addRow(_label("Host"), self.host_label)
        form.addRow(_label("Port"), self.port_spin)
        form.addRow(_label("Largest request body"), self.body_spin)
        form.addRow(_label("Allowed browser origins"), self.origins_edit)
        layout.addWidget(server)

        timeouts = QGroupBox("Upstream timeouts")
        tform = QFormLayout(timeouts)
        tform.setHorizontalSpacing(18)
        self.connect_spin = _seconds(120)
        self.first_byte_spin = _seconds(3600)
        self.idle_spin = _seconds(3600)
        tform.addRow(_label("Connect"), self.connect_spin)
        tform.addRow(_label("First byte"), self.first_byte_spin)
        tform.addRow(_label("Idle between chunks"), self.idle_spin)
        layout.addWidget(timeouts)

        actions = save_row("Save settings", self.save, self.load)
        self.save_button, self.revert_button = actions.save, actions.revert
        self.status = actions.status
        layout.addLayout(actions.layout)
        layout.addStretch(1)
        self.load()

    def load(self) -> None:
        s = self._core.config.server
        self.url_label.setText(openai_base_url(self._core.base_url))
        self.host_label.setText(f"{s.host}  (loopback; start with --host to change)")
        self.port_spin.setValue(current_port(self._core.base_url, s.port))
        self.body_spin.setValue(s.max_body_mb)
        self.origins_edit.setText(", ".join(s.allowed_origins))
        self.connect_spin.setValue(s.connect_timeout_s)
        self.first_byte_spin.setValue(s.first_byte_timeout_s)
        self.idle_spin.setValue(s.idle_timeout_s)
        self.status.say("")

    def edited_config(self) -> Config:
        data = self._core.config.model_dump()
        port = self.port_spin.value()
        if port == current_port(self._core.base_url, self._core.config.server.port):
            port = self._core.config.server.port  # unchanged: keep "0" (any free port) as is
        data["server"].update(
            port=port,
            max_body_mb=self.body_spin.value(),
            allowed_origins=[o.strip() for o in self.origins_edit.text().split(",") if o.strip()],
            connect_timeout_s=self.connect_spin.value(),
            first_byte_timeout_s=self.first_byte_spin.value(),
            idle_timeout_s=self.idle_spin.value(),
        )
        return Config.model_validate(data)

    def save(self) -> None:
        try:
            cfg = self.edited_config()
        except ValidationError as exc:
            self.status.say(f"Not saved: {validation_message(exc)}", ok=False)
            return
        self.save_button.setEnabled(False)
        self.status.say("Saving…")
        run_task(
            self,
            self._apply(cfg),
            name="gui-save-settings",
            on_done=lambda message: self._after(message, True),
            on_error=lambda exc: self._after(f"Not saved: {exc}", False),
        )

    async def _apply(self, cfg: Config) -> str:
        port = cfg.server.port
        moved = port != self._core.config.server.port
        if moved:
            await self._core.set_port(port)  # fails (and nothing is saved) if the port is taken
        await self._core.save_config(cfg)
        if moved:
            return f"Saved. The gateway now listens on {openai_base_url(self._core.base_url)}."
        return "Saved."

    def _after(self, message: str, ok: bool) -> None:
        self.save_button.setEnabled(True)
        self.url_label.setText(openai_base_url(self._core.base_url))
        self.status.say(message, ok=ok)
