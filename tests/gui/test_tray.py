"""The tray icon: menu actions, state icon, tooltip, debounced notices; the real tray under xcb."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QSystemTrayIcon

from orca_desktop.events import GatewayStateChanged, KeyStatusChanged
from orca_desktop.gui import run_gui
from orca_desktop.gui.tray import NOTIFY_AGAIN_AFTER_S, TrayIcon
from tests.gui.conftest import GuiCore, until


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_tray(
    gc: GuiCore, *, clock: Callable[[], float] = time.monotonic
) -> tuple[TrayIcon, list[str], asyncio.Event]:
    opened: list[str] = []
    quit_event = asyncio.Event()
    tray = TrayIcon(
        gc.core, on_open=lambda: opened.append("open"), on_quit=quit_event.set, clock=clock
    )
    return tray, opened, quit_event


def test_menu_has_the_documented_actions(gui_core: Callable[..., GuiCore]) -> None:
    tray, _, _ = make_tray(gui_core())
    assert list(tray.actions_by_text()) == [
        "Open",
        "Copy base URL",
        "Copy token",
        "Pause gateway",
        "Quit",
    ]
    tray.close()


def test_copy_actions_put_url_and_token_on_the_clipboard(
    gui_core: Callable[..., GuiCore],
) -> None:
    gc = gui_core()
    tray, _, _ = make_tray(gc)
    actions = tray.actions_by_text()
    actions["Copy base URL"].trigger()
    assert QGuiApplication.clipboard().text() == gc.core.base_url
    assert gc.core.base_url.endswith("/v1")
    actions["Copy token"].trigger()
    assert QGuiApplication.clipboard().text() == gc.core.token()
    assert gc.core.token() not in tray.toolTip()
    tray.close()


def test_pause_makes_the_gateway_answer_503_and_resume_restores_it(
    gui_core: Callable[..., GuiCore],
) -> None:
    gc = gui_core()
    tray, _, _ = make_tray(gc)
    assert tray.state == "running"

    async def toggle() -> None:
        tray.actions_by_text()["Pause gateway"].trigger()
        await until(lambda: gc.core.paused and tray.state == "paused", what="pause")
        assert "Resume gateway" in tray.actions_by_text()
        assert "paused" in tray.toolTip()
        paused = await gc.chat("auto")
        assert paused["status"] == 503
        assert "paused" in paused["body"]["error"]["message"]
        tray.actions_by_text()["Resume gateway"].trigger()
        await until(lambda: not gc.core.paused and tray.state == "running", what="resume")
        assert (await gc.chat("auto"))["status"] == 200

    gc.run(toggle())
    tray.close()


def test_open_and_quit(gui_core: Callable[..., GuiCore]) -> None:
    tray, opened, quit_event = make_tray(gui_core())
    tray.actions_by_text()["Open"].trigger()
    tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert opened == ["open", "open"]
    assert not quit_event.is_set()
    tray.actions_by_text()["Quit"].trigger()
    assert quit_event.is_set()
    tray.close()


def test_tooltip_shows_base_url_and_todays_requests_and_spend(
    gui_core: Callable[..., GuiCore],
) -> None:
    gc = gui_core()
    tray, _, _ = make_tray(gc)
    assert gc.run(gc.chat("auto"))["status"] == 200
    tray.refresh()
    tip = tray.toolTip()
    assert gc.core.base_url in tip
    assert "Today: 1 requests, $0.000" in tip
    tray.close()


def test_a_rejected_key_raises_one_notice_per_provider(
    gui_core: Callable[..., GuiCore],
) -> None:
    gc = gui_core()
    clock = Clock()
    tray, _, _ = make_tray(gc, clock=clock)
    notices: list[str] = []
    tray.notified.connect(lambda title, _message: notices.append(title))
    for _ in range(5):
        gc.core.hub.publish(KeyStatusChanged(0, "anthropic", "rejected", "401"))
    gc.core.hub.publish(KeyStatusChanged(0, "openai", "rejected", "401"))
    tray.refresh()
    assert notices == ["anthropic rejected its key", "openai rejected its key"]

    gc.core.hub.publish(KeyStatusChanged(0, "anthropic", "rejected", "401"))
    clock.now += NOTIFY_AGAIN_AFTER_S / 2
    tray.refresh()
    assert len(notices) == 2, "a storm of rejections is one notice"

    gc.core.hub.publish(KeyStatusChanged(0, "anthropic", "saved"))
    gc.core.hub.publish(KeyStatusChanged(0, "anthropic", "rejected", "401"))
    tray.refresh()
    assert notices[2:] == ["anthropic rejected its key"], "a new key that fails is news again"
    tray.close()


def test_a_gateway_error_shows_the_error_icon_until_it_runs_again(
    gui_core: Callable[..., GuiCore],
) -> None:
    gc = gui_core()
    tray, _, _ = make_tray(gc)
    gc.core.hub.publish(GatewayStateChanged(0, "error", gc.core.base_url, "port 8787 is in use"))
    tray.refresh()
    assert tray.state == "error"
    assert "port 8787 is in use" in tray.toolTip()
    gc.core.hub.publish(GatewayStateChanged(0, "running", gc.core.base_url))
    tray.refresh()
    assert tray.state == "running"
    tray.close()


def test_without_a_tray_the_window_opens_says_why_and_closing_quits(
    qtbot: Any,
    gui_core: Callable[..., GuiCore],
) -> None:
    gc = gui_core()
    quit_event = asyncio.Event()
    gui = run_gui(gc.core, quit_event, tray=False)
    qtbot.addWidget(gui.window)
    assert gui.tray is None
    assert gui.window.isVisible()
    assert "No system tray" in gui.window.notice_banner.label.text()
    gui.window.close()
    assert quit_event.is_set()
    gui.close()


@pytest.mark.tray
def test_real_tray_icon_shows_and_opens_the_window(
    qtbot: Any,
    gui_core: Callable[..., GuiCore],
    require_tray: None,
    screenshot_dir: Path,
) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable()
    gc = gui_core()
    quit_event = asyncio.Event()
    gui = run_gui(gc.core, quit_event)
    qtbot.addWidget(gui.window)
    assert gui.tray is not None and gui.tray.isVisible()
    assert not gui.window.isVisible(), "with a key and a tray, Orca starts in the tray"
    tray = gui.tray
    # Until the tray host embeds the icon, geometry() is QRect(0, 0, 22, 22).
    qtbot.waitUntil(lambda: not tray.geometry().topLeft().isNull(), timeout=5000)
    screen = QGuiApplication.primaryScreen()
    assert (
        screen.grabWindow(0)
        .copy(screen.geometry().width() - 240, 0, 240, 40)
        .save(str(screenshot_dir / "tray-xcb.png"))
    )
    qtbot.wait(300)  # the host may still move the icon once after embedding it
    for _attempt in range(3):
        g = tray.geometry()
        x, y = g.x() + g.width() // 2, g.y() + g.height() // 2
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True)
        try:
            qtbot.waitUntil(gui.window.isVisible, timeout=3000)
            break
        except qtbot.TimeoutError:
            continue
    assert gui.window.isVisible(), "a left click on the tray icon opens the window"
    qtbot.waitExposed(gui.window)
    assert gui.window.grab().save(str(screenshot_dir / "window-xcb.png"))
    tray.actions_by_text()["Quit"].trigger()
    assert quit_event.is_set()
    gui.close()
