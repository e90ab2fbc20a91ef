"""The first-run panel: shown on the Live page while no provider is usable and demo is off.

It says what to do next (add a key on the Keys page, or `orca-desktop keys set
openai`) and offers demo mode when the Core can switch to it at run time.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from orca_desktop.gui._async import maybe_await, run_task
from orca_desktop.gui._core import CoreLike


class WelcomePanel(QFrame):
    """What to do when nothing can serve a request yet."""

    def __init__(
        self,
        core: CoreLike,
        *,
        open_keys: Callable[[], None],
        on_demo: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self._core = core
        self._on_demo = on_demo
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(8)
        title = QLabel("Welcome to Orca Desktop — add a provider key to start routing")
        title.setObjectName("welcomeTitle")
        body = QLabel(
            "Orca routes each request to the cheapest capable model among the providers you have "
            "keys for. Add a key on the <b>Keys</b> page, or in a terminal run "
            "<span style='white-space: nowrap; font-family: monospace;'>"
            "orca-desktop keys set openai</span>. Then point a tool at Orca "
            "(<b>Connect a tool</b>).<br>Just looking? <b>Demo mode</b> uses built-in simulated "
            "providers: no keys, no network, no cost."
        )
        body.setTextFormat(Qt.TextFormat.RichText)
        body.setWordWrap(True)
        layout.addWidget(title)
        layout.addWidget(body)
        buttons = QHBoxLayout()
        self.keys_button = QPushButton("Add a key")
        self.keys_button.setObjectName("primary")
        self.keys_button.clicked.connect(open_keys)
        self.demo_button = QPushButton("Try demo mode")
        self.demo_button.clicked.connect(self.start_demo)
        self.hint = QLabel()
        self.hint.setObjectName("muted")
        if not callable(getattr(core, "enable_demo", None)):
            self.demo_button.setEnabled(False)
            self.hint.setText("Demo mode: restart with `orca-desktop --demo`.")
        buttons.addWidget(self.keys_button)
        buttons.addWidget(self.demo_button)
        buttons.addWidget(self.hint, 1)
        layout.addLayout(buttons)

    def start_demo(self) -> None:
        enable = getattr(self._core, "enable_demo", None)
        if not callable(enable):
            return
        self.demo_button.setEnabled(False)
        self.hint.setText("Starting demo providers…")
        run_task(
            self,
            maybe_await(enable()),
            name="gui-enable-demo",
            on_done=lambda _: self._done(),
            on_error=self._failed,
        )

    def _done(self) -> None:
        self.hint.setText("")
        self.demo_button.setEnabled(True)
        self._on_demo()

    def _failed(self, exc: Exception) -> None:
        self.demo_button.setEnabled(True)
        self.hint.setText(f"Demo mode did not start: {exc}")
