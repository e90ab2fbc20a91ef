"""GUI fixtures: the real core (`app.open_core`) on 127.0.0.1:0 in front of the FakeProvider,
driven on the app's Qt event loop, plus helpers to read what a user would see.

`gui_core(...)` starts a FakeProvider, writes a config naming it as provider
`mock`, and opens the real core with a fixed local token, a throwaway keyring
service and (by default) the mock key in `ORCA_KEY_MOCK`. Async steps run with
`qloop.run_until_complete`; widgets' async actions run on the same loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QTextEdit,
    QWidget,
)

from orca_desktop.app import Options, open_core
from orca_desktop.core import Core
from orca_desktop.gui.qt_loop import OrcaQtLoop
from tests.fake_provider import FakeProvider, Reply

T = TypeVar("T")
TOKEN = "sk-orca-guitest-" + uuid.uuid4().hex
MOCK_KEY = "sk-mock-gui-" + uuid.uuid4().hex
REPO_ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
[server]
host = "127.0.0.1"
port = 0

[providers.mock]
kind = "openai-compatible"
base_url = "{url}"
models = ["fake-small", "fake-large"]

[routing]
reference_model = "fake-large"

[routers.cheap]
strategy = "cheapest"
models = ["fake-small", "fake-large"]

[[models]]
id = "fake-small"
provider = "mock"
input_price = 0.15
output_price = 0.60
context_window = 128000
capabilities = ["tools", "json_schema"]

[[models]]
id = "fake-large"
provider = "mock"
input_price = 2.50
output_price = 10.00
context_window = 200000
capabilities = ["tools", "vision", "json_schema", "reasoning"]
"""


@dataclass
class GuiCore:
    """The running core, its fake upstream, and the loop both live on."""

    core: Core
    fake: FakeProvider
    loop: OrcaQtLoop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    async def chat(self, model: str = "auto", **body: Any) -> dict[str, Any]:
        """One real chat completion through the gateway with the local token."""
        payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{self.core.base_url}/chat/completions",
                json=payload,
                headers={"Authorization": f"Bearer {self.core.token()}"},
            ) as response:
                return {"status": response.status, "body": await response.json()}


@pytest.fixture(autouse=True)
def _collect_qt_garbage(qapp: Any) -> Iterator[None]:
    """After each test, delete its widgets and collect Python cycles on the GUI thread.

    Widgets hold lambdas that refer back to them, so their wrappers live in
    reference cycles. Left to the cyclic GC, they may be finalized later from
    any thread that happens to allocate (the SQLite writer, a keyring worker),
    deleting Qt objects off the GUI thread: an intermittent segfault under xcb.
    """
    yield
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def gui_env(
    monkeypatch: pytest.MonkeyPatch, test_secrets: Any, isolated_keyring_service: str
) -> None:
    """No provider key in the environment, a fixed token, a throwaway keyring service."""
    for name in list(os.environ):
        if name.startswith("ORCA_KEY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ORCA_DESKTOP_TOKEN", TOKEN)
    monkeypatch.setenv("ORCA_KEYRING_SERVICE", isolated_keyring_service)
    test_secrets.add(TOKEN)
    test_secrets.add(MOCK_KEY)


@pytest.fixture
def gui_core(
    qloop: OrcaQtLoop, tmp_path: Path, gui_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., GuiCore]]:
    """`gui_core(mock_key=True, demo=False)` → a running real core; closed after the test."""
    stack = AsyncExitStack()

    def start(*, mock_key: bool = True, demo: bool = False) -> GuiCore:
        if mock_key:
            monkeypatch.setenv("ORCA_KEY_MOCK", MOCK_KEY)

        async def go() -> GuiCore:
            fake = await stack.enter_async_context(
                FakeProvider(
                    require_key=MOCK_KEY if mock_key else None,
                    default=Reply(prompt_tokens=1200, completion_tokens=240),
                )
            )
            config_path = tmp_path / "config.toml"
            config_path.write_text(CONFIG.format(url=fake.base_url), encoding="utf-8")
            core = await stack.enter_async_context(
                open_core(Options(config_path=config_path, data_dir=tmp_path / "data", demo=demo))
            )
            return GuiCore(core, fake, qloop)

        return qloop.run_until_complete(asyncio.wait_for(go(), 20))

    yield start
    qloop.run_until_complete(asyncio.wait_for(stack.aclose(), 20))


async def until(predicate: Callable[[], object], *, timeout: float = 5.0, what: str = "") -> None:
    """Let the loop run until `predicate()` is truthy (async tests cannot use qtbot.waitUntil)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def visible_text(root: QWidget) -> str:
    """Every piece of text the widgets under `root` can show, one per line."""
    parts: list[str] = [root.windowTitle(), root.toolTip()]
    for w in [root, *root.findChildren(QWidget)]:
        parts.append(w.toolTip())
        if isinstance(w, QLineEdit | QLabel | QAbstractButton):
            parts.append(w.text())
            if isinstance(w, QLineEdit):
                parts.append(w.placeholderText())
        if isinstance(w, QPlainTextEdit | QTextEdit):
            parts.append(w.toPlainText())
        if isinstance(w, QComboBox):
            parts.extend(w.itemText(i) for i in range(w.count()))
        if isinstance(w, QTableWidget):
            for r in range(w.rowCount()):
                for c in range(w.columnCount()):
                    item = w.item(r, c)
                    if item is not None:
                        parts.extend((item.text(), item.toolTip()))
    return "\n".join(p for p in parts if p)


@pytest.fixture
def screenshot_dir(test_secrets: Any) -> Path:
    """test-artifacts/screenshots/ (ORCA_TEST_ARTIFACTS overrides the base), kept after the run."""
    base = Path(os.environ.get("ORCA_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    path = base / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return test_secrets.watch(path)
