"""Screenshots of every page with real traffic, saved to test-artifacts/screenshots/ for review.

Runs on any platform (offscreen grabs work); under xcb with a tray host the
tray test in test_tray.py adds a screenshot of the icon in the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from orca_desktop.gui.icons import state_pixmap
from orca_desktop.gui.pages._rules_editor import RuleDraft
from orca_desktop.gui.window import PAGES, MainWindow
from tests.fake_provider import Fail, Reply
from tests.gui.conftest import GuiCore, visible_text


def _traffic(gc: GuiCore) -> None:
    gc.fake.script("fake-large", [Reply(prompt_tokens=3400, completion_tokens=610)])
    ok = Reply(prompt_tokens=800, completion_tokens=120)
    gc.fake.script("fake-small", [ok, ok, ok, ok, ok, Fail(503), ok])

    async def send() -> None:
        for model in (
            "auto",
            "fake-large",
            "auto",
            "orcarouter/cheap",
            "auto",
            "fake-large",
            "no-such-model",
            "auto",
            "orcarouter/cheap",
            "auto",
        ):
            await gc.chat(model)

    gc.run(send())


def _rules_router_screenshot(window: MainWindow, screenshot_dir: Path) -> None:
    """The Routers page editing an (unsaved) rules router, with a problem shown inline."""
    window.show_page("Routers")
    page = window.routers_page
    page.add_router(
        "coding",
        "rules",
        [],
        rules=[
            RuleDraft("has_images", "fake-large"),
            RuleDraft("long_context", "fake-large", min_tokens=64_000),
            RuleDraft("has_tools", "orcarouter/cheap"),
            RuleDraft("reasoning", "fake-lrage"),
        ],
        default="fake-small",
    )
    QApplication.processEvents()
    assert "unknown model 'fake-lrage'" in page.editor.error.text()
    path = screenshot_dir / "routers-rules.png"
    assert window.grab().save(str(path)), path
    page.load()


def test_every_page_renders_and_is_saved_as_a_screenshot(
    qtbot: Any, gui_core: Callable[..., GuiCore], screenshot_dir: Path
) -> None:
    gc = gui_core()
    window = MainWindow(gc.core)
    qtbot.addWidget(window)
    _traffic(gc)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.feed.flush()
    window.live_page.totals.tick()
    window.live_page.select_row(1)
    for name in PAGES:
        window.show_page(name)
        QApplication.processEvents()
        image = window.grab()
        path = screenshot_dir / f"{name.lower().replace(' ', '-')}.png"
        assert image.save(str(path)), path
        assert path.stat().st_size > 10_000
    _rules_router_screenshot(window, screenshot_dir)
    assert gc.core.token() not in visible_text(window)
    for state in ("running", "paused", "error"):
        assert state_pixmap(state, 64).save(str(screenshot_dir / f"icon-{state}.png"))


def test_first_run_and_demo_screens_are_saved(
    qtbot: Any, gui_core: Callable[..., GuiCore], screenshot_dir: Path
) -> None:
    gc = gui_core(mock_key=False)
    window = MainWindow(gc.core)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    assert window.grab().save(str(screenshot_dir / "first-run.png"))
