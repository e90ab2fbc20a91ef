"""The Keys page over the real core: masked entry, save/replace/delete/test, never shown again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from orca_desktop.gui.pages.keys import KeysPage
from orca_desktop.gui.window import MainWindow
from tests.gui.conftest import MOCK_KEY, GuiCore, until, visible_text


def keys_page(qtbot: Any, gc: GuiCore) -> KeysPage:
    page = KeysPage(gc.core)
    qtbot.addWidget(page)
    return page


def choose(page: KeysPage, provider: str) -> None:
    index = page.provider_box.findData(provider)
    assert index >= 0, f"{provider} is not offered"
    page.provider_box.setCurrentIndex(index)


def state_cell(page: KeysPage, provider: str) -> str:
    for row in range(page.table.rowCount()):
        name = page.table.item(row, 0)
        if name is not None and name.data(Qt.ItemDataRole.UserRole) == provider:
            cell = page.table.item(row, 2)
            return cell.text() if cell is not None else ""
    raise AssertionError(f"no row for {provider}")


def click(qtbot: Any, button: Any) -> None:
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_key_field_is_masked(qtbot: Any, gui_core: Callable[..., GuiCore]) -> None:
    page = keys_page(qtbot, gui_core())
    assert page.key_edit.echoMode() == QLineEdit.EchoMode.Password


def test_every_provider_is_listed_with_where_its_key_comes_from(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = keys_page(qtbot, gc)
    ids = {p.id for p in gc.core.provider_states()}
    assert page.table.rowCount() == len(ids)
    assert "From environment (ORCA_KEY_MOCK)" in state_cell(page, "mock")
    assert "Missing" in state_cell(page, "openai")
    assert "no key needed" in state_cell(page, "ollama")


def test_an_environment_key_can_be_tested_but_not_deleted(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = keys_page(qtbot, gc)
    choose(page, "mock")
    assert not page.delete_button.isEnabled()
    assert "ORCA_KEY_MOCK" in page.delete_button.toolTip()

    async def test_it() -> None:
        click(qtbot, page.test_button)
        await until(lambda: "works" in page.status.text() or "failed" in page.status.text())

    gc.run(test_it())
    assert "mock key works" in page.status.text()
    assert MOCK_KEY not in visible_text(page)


def test_saving_without_a_secure_keyring_says_how_to_fix_it_and_keeps_nothing(
    qtbot: Any,
    gui_core: Callable[..., GuiCore],
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    gc = gui_core()
    page = keys_page(qtbot, gc)
    secret = test_secrets.new("openai")
    choose(page, "openai")
    qtbot.keyClicks(page.key_edit, secret)
    assert page.save_button.isEnabled()

    async def save() -> None:
        click(qtbot, page.save_button)
        assert page.key_edit.text() == "", "the field clears at once"
        await until(lambda: "Could not save" in page.status.text(), what="the save to fail")

    gc.run(save())
    assert "keyring" in page.status.text() and "GNOME Keyring" in page.status.text()
    assert "Missing" in state_cell(page, "openai")
    assert secret not in visible_text(page)


@pytest.mark.keyring
def test_a_saved_key_goes_to_the_keyring_and_is_never_shown_again(
    qtbot: Any, gui_core: Callable[..., GuiCore], require_secret_service: None
) -> None:
    gc = gui_core(mock_key=False)
    window = MainWindow(gc.core)
    qtbot.addWidget(window)
    window.show_page("Keys")
    page = window.keys_page
    choose(page, "mock")
    assert "Missing" in state_cell(page, "mock")
    qtbot.keyClicks(page.key_edit, MOCK_KEY)

    async def save_test_delete() -> None:
        click(qtbot, page.save_button)
        assert page.key_edit.text() == ""
        await until(lambda: "In keyring" in state_cell(page, "mock"), what="the key to be saved")
        assert page.save_button.text() == "Replace key"
        click(qtbot, page.test_button)
        await until(lambda: "key works" in page.status.text(), what="the key test")
        assert MOCK_KEY not in visible_text(window)
        click(qtbot, page.delete_button)
        await until(lambda: "Missing" in state_cell(page, "mock"), what="the key to be deleted")

    gc.run(save_test_delete())
    assert gc.core.provider_states()
    assert MOCK_KEY not in visible_text(window)
