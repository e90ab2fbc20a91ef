"""The Routers page over the real core: catalog pickers, the rules editor, and what the
engine rejects (shown where it was made, never written)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QWidget

from orca_desktop.config import RouterConfig, RuleConfig, load_config
from orca_desktop.gui.pages._rules_editor import RuleDraft, RuleRow
from orca_desktop.gui.pages.routers import RoutersPage
from tests.gui.conftest import GuiCore, until

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def open_page(qtbot: Any, gc: GuiCore) -> RoutersPage:
    page = RoutersPage(gc.core)
    qtbot.addWidget(page)
    page.resize(1060, 700)
    page.show()
    qtbot.waitExposed(page)
    return page


def type_into(qtbot: Any, edit: QLineEdit, text: str) -> None:
    """Type like a user and press Return (which finishes the edit)."""
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def click(qtbot: Any, button: QWidget) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def add_rule(qtbot: Any, page: RoutersPage, when: str, target: str) -> RuleRow:
    click(qtbot, page.editor.rules.add_button)
    row = page.editor.rules.rows[-1]
    row.when_combo.setCurrentIndex(row.when_combo.findData(when))
    type_into(qtbot, row.target.edit, target)
    return row


def save(qtbot: Any, gc: GuiCore, page: RoutersPage) -> None:
    async def go() -> None:
        click(qtbot, page.save_button)
        await until(lambda: "Saved" in page.status.text(), what="the save")

    gc.run(go())


async def chat_route(gc: GuiCore, model: str, **body: Any) -> tuple[int, str, str]:
    """(status, X-Orca-Route, X-Orca-Model) of one chat completion through the gateway."""
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gc.core.base_url}/chat/completions",
            json=payload,
            headers={"Authorization": f"Bearer {gc.core.token()}"},
        ) as response:
            await response.read()
            return (
                response.status,
                response.headers.get("X-Orca-Route", ""),
                response.headers.get("X-Orca-Model", ""),
            )


def test_a_rules_router_made_in_the_page_is_saved_and_routes_the_next_request(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = open_page(qtbot, gc)
    click(qtbot, page.add_button)
    type_into(qtbot, page.editor.name_edit, "smart")
    page.editor.strategy_combo.setCurrentText("rules")
    assert page.editor.stack.currentWidget() is page.editor.rules
    add_rule(qtbot, page, "always", "fake-small")
    tools_rule = add_rule(qtbot, page, "has_tools", "fake-large")
    click(qtbot, tools_rule.up_button)  # tools first, or "always" would take everything
    assert [r.when for r in page.drafts[-1].rules] == ["has_tools", "always"]
    assert page.table.item(1, 2).text() == "has tools → fake-large; always → fake-small; else auto"

    save(qtbot, gc, page)

    expected = RouterConfig(
        strategy="rules",
        rules=[
            RuleConfig(when="has_tools", use="fake-large"),
            RuleConfig(when="always", use="fake-small"),
        ],
    )
    assert load_config(gc.core.config_path).routers["smart"] == expected
    assert gc.core.config.routers["smart"] == expected
    assert gc.run(chat_route(gc, "orcarouter/smart", tools=TOOLS)) == (
        200,
        "smart/rules",
        "fake-large",
    )
    assert gc.run(chat_route(gc, "orcarouter/smart")) == (200, "smart/rules", "fake-small")
    assert [r.model for r in gc.fake.received_for("fake-large")] == ["fake-large"]


def test_a_long_context_rule_keeps_its_threshold_and_a_default_target(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = open_page(qtbot, gc)
    page.add_router("long", "rules", [])
    row = add_rule(qtbot, page, "long_context", "fake-large")
    assert row.tokens_spin.isVisible() and row.tokens_spin.value() == 32_000
    row.tokens_spin.setFocus()
    row.tokens_spin.selectAll()
    qtbot.keyClicks(row.tokens_spin, "1000")
    qtbot.keyClick(row.tokens_spin, Qt.Key.Key_Return)
    type_into(qtbot, page.editor.rules.default_picker.edit, "fake-small")
    save(qtbot, gc, page)

    saved = load_config(gc.core.config_path).routers["long"]
    assert saved.rules == [RuleConfig(when="long_context", use="fake-large", min_tokens=1000)]
    assert saved.default == "fake-small"
    assert gc.run(chat_route(gc, "orcarouter/long")) == (200, "long/rules", "fake-small")
    long_prompt = [{"role": "user", "content": "word " * 2000}]
    assert gc.run(chat_route(gc, "orcarouter/long", messages=long_prompt))[2] == "fake-large"


def test_a_router_cycle_is_shown_and_the_file_is_left_as_it_was(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    before = gc.core.config_path.read_bytes()
    page = open_page(qtbot, gc)
    page.add_router("a", "rules", [], rules=[RuleDraft("always", "orcarouter/b")])
    page.add_router("b", "rules", [])
    row = add_rule(qtbot, page, "has_images", "orcarouter/a")
    assert "orcarouter/a" in [row.target.itemText(i) for i in range(row.target.count())]

    click(qtbot, page.save_button)

    cycle = "router cycle: orcarouter/a → orcarouter/b → orcarouter/a"
    assert cycle in page.status.text() and "Not saved" in page.status.text()
    page.select_router("a")
    assert page.editor.error.isVisible() and cycle in page.editor.error.text()
    assert gc.core.config_path.read_bytes() == before
    assert set(gc.core.config.routers) == {"cheap"}

    page.select_router("b")
    click(qtbot, page.editor.rules.rows[0].remove_button)
    assert not page.editor.error.isVisible()
    save(qtbot, gc, page)
    assert set(load_config(gc.core.config_path).routers) == {"cheap", "a", "b"}


def test_an_unknown_model_id_is_refused_where_it_is_typed(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    before = gc.core.config_path.read_bytes()
    page = open_page(qtbot, gc)
    models = page.editor.models
    assert page.editor.draft is not None and page.editor.draft.name == "cheap"

    type_into(qtbot, models.input, "fake-smal")
    assert models.error.isVisible()
    assert "unknown model 'fake-smal'; did you mean: fake-small" in models.error.text()
    assert models.list.count() == 2 and models.input.text() == "fake-smal"

    type_into(qtbot, models.input, "mock/fake-small")  # a provider-pinned id is fine
    assert not models.error.isVisible()
    assert page.drafts[0].models == ["fake-small", "fake-large", "mock/fake-small"]

    page.add_router("picky", "rules", [])
    row = add_rule(qtbot, page, "has_tools", "fake-lrage")
    assert "unknown model 'fake-lrage'" in page.editor.error.text()
    assert "fake-lrage" in row.target.toolTip()
    assert "[routers.picky]" in page.status.text()

    type_into(qtbot, page.reference_edit, "fake-huge")
    assert "unknown model 'fake-huge'" in page.reference_error.text()

    click(qtbot, page.save_button)
    assert "Not saved" in page.status.text()
    assert gc.core.config_path.read_bytes() == before


def test_model_pickers_offer_the_catalog_ids(qtbot: Any, gui_core: Callable[..., GuiCore]) -> None:
    gc = gui_core()
    page = open_page(qtbot, gc)
    models = page.editor.models
    models.input.setFocus()
    qtbot.keyClicks(models.input, "fake-")
    completer = models.input.completer()
    assert completer is not None
    qtbot.waitUntil(lambda: completer.popup().isVisible())
    offered = {
        completer.completionModel().index(i, 0).data()
        for i in range(completer.completionModel().rowCount())
    }
    assert {"fake-small", "fake-large", "mock/fake-small", "mock/fake-large"} <= offered
    assert "gpt-4o" in gc.core.model_ids()  # the bundled catalog is offered too

    page.add_router("r", "rules", [])
    click(qtbot, page.editor.rules.add_button)
    target = page.editor.rules.rows[0].target
    items = [target.itemText(i) for i in range(target.count())]
    assert items[:2] == ["auto", "orcarouter/cheap"] and "fake-large" in items
    assert "orcarouter/r" not in items  # a router never offers itself


def test_renaming_a_router_updates_the_rules_that_point_at_it(
    qtbot: Any, gui_core: Callable[..., GuiCore]
) -> None:
    gc = gui_core()
    page = open_page(qtbot, gc)
    page.add_router("picker", "rules", [], rules=[RuleDraft("has_tools", "orcarouter/cheap")])
    page.select_router("cheap")
    type_into(qtbot, page.editor.name_edit, "budget")
    save(qtbot, gc, page)

    saved = load_config(gc.core.config_path).routers
    assert set(saved) == {"budget", "picker"}
    assert saved["picker"].rules == [RuleConfig(when="has_tools", use="orcarouter/budget")]
    status, route, model = gc.run(chat_route(gc, "orcarouter/picker", tools=TOOLS))
    assert (status, route, model) == (200, "picker/rules", "fake-small")
