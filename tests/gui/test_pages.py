"""Routers, Settings and Connect pages over the real core: what they save and what they show."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import aiohttp
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from orca_desktop.config import load_config
from orca_desktop.gui.pages.connect import ConnectPage
from orca_desktop.gui.pages.routers import RoutersPage
from orca_desktop.gui.pages.settings import SettingsPage
from tests.gui.conftest import GuiCore, until, visible_text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_routers_page_saves_reference_model_and_a_new_router(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = RoutersPage(gc.core)
    qtbot.addWidget(page)
    assert page.reference_edit.text() == "fake-large"
    assert page.table.rowCount() == 1  # [routers.cheap] from the config
    page.reference_edit.setText("fake-small")
    page.add_router("fast", "fastest", ["fake-large", "fake-small"])

    async def save() -> None:
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        await until(lambda: "Saved" in page.status.text(), what="the save")

    gc.run(save())
    assert gc.core.config.routing.reference_model == "fake-small"
    assert gc.core.config.routers["fast"].strategy == "fastest"
    assert gc.core.config.routers["fast"].models == ["fake-large", "fake-small"]
    on_disk = load_config(gc.core.config_path)
    assert on_disk.routers["fast"].models == ["fake-large", "fake-small"]
    assert gc.run(gc.chat("orcarouter/fast"))["status"] == 200


def test_routers_page_refuses_a_nameless_router_and_saves_nothing(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = RoutersPage(gc.core)
    qtbot.addWidget(page)
    page.add_router("", "cheapest", ["fake-small"])
    page.save()
    assert "has no name" in page.status.text()
    assert set(gc.core.config.routers) == {"cheap"}


def test_settings_page_moves_the_gateway_to_a_new_port(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = SettingsPage(gc.core)
    qtbot.addWidget(page)
    old_url = gc.core.base_url
    assert str(page.port_spin.value()) in old_url
    port = free_port()
    page.port_spin.setValue(port)

    async def save_and_call() -> int:
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        await until(lambda: "Saved" in page.status.text(), what="the move", timeout=10)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                return response.status

    assert gc.run(save_and_call()) == 200
    assert gc.core.base_url == f"http://127.0.0.1:{port}/v1"
    assert f"127.0.0.1:{port}" in page.status.text()
    assert load_config(gc.core.config_path).server.port == port


def test_connect_page_copies_the_token_without_ever_showing_it(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = ConnectPage(gc.core)
    qtbot.addWidget(page)
    qtbot.mouseClick(page.copy_token_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == gc.core.token()
    assert gc.core.token() not in visible_text(page)
    qtbot.mouseClick(page.copy_url_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == gc.core.base_url


def test_connect_page_has_a_ready_snippet_for_every_tool(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = ConnectPage(gc.core)
    qtbot.addWidget(page)
    assert list(page.cards) == [
        "OpenAI Python SDK",
        "curl",
        "Continue",
        "Cline",
        "Aider",
        "Claude Code",
        "Zed",
    ]
    url = gc.core.base_url
    root = url.removesuffix("/v1")
    text = {tool: card.code.toPlainText() for tool, card in page.cards.items()}
    for tool in ("OpenAI Python SDK", "curl", "Continue", "Cline", "Aider", "Zed"):
        assert url in text[tool], tool
    assert f"ANTHROPIC_BASE_URL={root}\n" in text["Claude Code"]
    assert "ANTHROPIC_AUTH_TOKEN=$(orca-desktop token)" in text["Claude Code"]
    assert '"Authorization: Bearer $(orca-desktop token)"' in text["curl"]
    assert "orca-desktop token" in text["Continue"] and "orca-desktop token" in text["Cline"]
    assert all(gc.core.token() not in t for t in text.values())
    qtbot.mouseClick(page.cards["Claude Code"].copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == text["Claude Code"]
