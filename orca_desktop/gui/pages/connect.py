"""The "Connect a tool" page: the base URL, a Copy-token button and copy-ready snippets.

The token is copied to the clipboard but never displayed; snippets read it
with `$(orca-desktop token)` or leave a placeholder, never the literal token.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from orca_desktop.gui._core import CoreLike, openai_base_url, root_url
from orca_desktop.gui.pages._common import StatusLine, page_layout

TOKEN_PLACEHOLDER = "<your Orca token: run `orca-desktop token`>"


def snippets(base_url: str) -> list[tuple[str, str, str]]:
    """(tool, how-to line, snippet) for every supported tool, for this base URL."""
    v1 = openai_base_url(base_url)
    root = root_url(base_url)
    return [
        (
            "OpenAI Python SDK",
            'Any script using the official SDK (model "auto" lets Orca pick).',
            f"export OPENAI_BASE_URL={v1}\n"
            "export OPENAI_API_KEY=$(orca-desktop token)\n\n"
            "# then, in Python:\n"
            "from openai import OpenAI\n"
            "client = OpenAI()\n"
            "reply = client.chat.completions.create(\n"
            '    model="auto", messages=[{"role": "user", "content": "Hello"}]\n'
            ")",
        ),
        (
            "curl",
            "A quick check from a terminal.",
            f"curl {v1}/chat/completions \\\n"
            '  -H "Authorization: Bearer $(orca-desktop token)" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            '  -d \'{"model": "auto", "messages": [{"role": "user", "content": "Hello"}]}\'',
        ),
        (
            "Continue",
            "Add to ~/.continue/config.yaml; paste the token with the Copy token button.",
            "models:\n"
            "  - name: Orca (auto)\n"
            "    provider: openai\n"
            "    model: auto\n"
            f"    apiBase: {v1}\n"
            f'    apiKey: "{TOKEN_PLACEHOLDER}"',
        ),
        (
            "Cline",
            "Cline settings → API Provider; paste the token with the Copy token button.",
            "API Provider:  OpenAI Compatible\n"
            f"Base URL:      {v1}\n"
            f"API Key:       {TOKEN_PLACEHOLDER}\n"
            "Model ID:      auto",
        ),
        (
            "Aider",
            "Aider talks to any OpenAI-compatible endpoint.",
            f"export OPENAI_API_BASE={v1}\n"
            "export OPENAI_API_KEY=$(orca-desktop token)\n"
            "aider --model openai/auto",
        ),
        (
            "Claude Code",
            "Claude Code speaks the Anthropic Messages API; Orca routes it the same way.",
            f"export ANTHROPIC_BASE_URL={root}\n"
            "export ANTHROPIC_AUTH_TOKEN=$(orca-desktop token)\n"
            "claude",
        ),
        (
            "Zed",
            "Add to Zed's settings.json, then start Zed with ORCA_API_KEY=$(orca-desktop token) "
            "or paste the token under Agent Settings → LLM Providers → Orca.",
            "{\n"
            '  "language_models": {\n'
            '    "openai_compatible": {\n'
            '      "Orca": {\n'
            f'        "api_url": "{v1}",\n'
            '        "available_models": [\n'
            '          { "name": "auto", "display_name": "Orca auto", "max_tokens": 128000 }\n'
            "        ]\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}",
        ),
    ]


class SnippetCard(QFrame):
    """One tool: name, a hint, the snippet in a read-only code box, and a Copy button."""

    def __init__(self, tool: str, hint: str, text: str, on_copied: Callable[[str], None]) -> None:
        super().__init__()
        self.setObjectName("card")
        self.tool = tool
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        top = QHBoxLayout()
        title = QLabel(tool)
        title.setStyleSheet("font-weight: 600; font-size: 11pt;")
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(lambda: self._copy(on_copied))
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.copy_button)
        layout.addLayout(top)
        note = QLabel(hint)
        note.setObjectName("muted")
        note.setWordWrap(True)
        layout.addWidget(note)
        self.code = QPlainTextEdit()
        self.code.setObjectName("snippet")
        self.code.setReadOnly(True)
        self.code.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.code.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(self.code)
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.code.setPlainText(text)
        lines = text.count("\n") + 1
        height = self.code.fontMetrics().lineSpacing() * lines + 26
        self.code.setFixedHeight(height)

    def _copy(self, on_copied: Callable[[str], None]) -> None:
        QGuiApplication.clipboard().setText(self.code.toPlainText())
        on_copied(self.tool)


class ConnectPage(QWidget):
    """Base URL with copy buttons, then one card per tool."""

    def __init__(self, core: CoreLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core
        layout = page_layout(
            self,
            "Connect a tool",
            "Point your tools at Orca instead of at a provider. They authenticate with Orca's "
            "local token; your provider keys never leave the keyring.",
        )
        top = QHBoxLayout()
        self.url_label = QLabel()
        self.url_label.setStyleSheet("font-family: 'DejaVu Sans Mono'; font-size: 11pt;")
        self.copy_url_button = QPushButton("Copy base URL")
        self.copy_url_button.clicked.connect(self.copy_base_url)
        self.copy_token_button = QPushButton("Copy token")
        self.copy_token_button.setObjectName("primary")
        self.copy_token_button.setToolTip("Copies the local access token; it is never shown")
        self.copy_token_button.clicked.connect(self.copy_token)
        top.addWidget(QLabel("Base URL"))
        top.addWidget(self.url_label, 1)
        top.addWidget(self.copy_url_button)
        top.addWidget(self.copy_token_button)
        layout.addLayout(top)
        self.status = StatusLine()
        layout.addWidget(self.status)

        body = QWidget()
        body.setObjectName("page")
        cards = QVBoxLayout(body)
        cards.setContentsMargins(0, 0, 8, 0)
        cards.setSpacing(12)
        self.cards: dict[str, SnippetCard] = {}
        for tool, hint, text in snippets(core.base_url):
            card = SnippetCard(tool, hint, text, self._on_copied)
            self.cards[tool] = card
            cards.addWidget(card)
        cards.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout.addWidget(scroll, 1)
        self.refresh()

    def refresh(self) -> None:
        """Follow the current base URL (the port may have changed)."""
        self.url_label.setText(openai_base_url(self._core.base_url))
        for tool, _, text in snippets(self._core.base_url):
            card = self.cards.get(tool)
            if card is not None and card.code.toPlainText() != text:
                card.set_text(text)

    def copy_base_url(self) -> None:
        QGuiApplication.clipboard().setText(openai_base_url(self._core.base_url))
        self.status.say("Base URL copied to the clipboard.", ok=True)

    def copy_token(self) -> None:
        QGuiApplication.clipboard().setText(self._core.token())
        self.status.say(
            "Token copied to the clipboard. Paste it into your tool's API key field.", ok=True
        )

    def _on_copied(self, tool: str) -> None:
        self.status.say(f"{tool} snippet copied to the clipboard.", ok=True)
