"""The decision pane: what a translation dropped, and cache writes beside cached tokens."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orca_desktop.gui import _format as fmt
from orca_desktop.gui.decision_pane import DecisionPane, decision_html
from tests.gui.factories import make_record


def pane_text(qtbot: Any, record: Any) -> str:
    pane = DecisionPane()
    qtbot.addWidget(pane)
    pane.show_record(record)
    return pane.toPlainText()


def test_dropped_names_show_on_one_line(qtbot: Any) -> None:
    record = replace(make_record(id="r-dropped"), dropped=["top_k", "thinking"])
    lines = pane_text(qtbot, record).splitlines()
    assert "Dropped in translation: top_k, thinking" in lines


def test_nothing_dropped_shows_no_dropped_line(qtbot: Any) -> None:
    assert "Dropped" not in pane_text(qtbot, make_record(id="r-whole"))


def test_dropped_names_are_escaped() -> None:
    record = replace(make_record(id="r-html"), dropped=["<b>x</b>"])
    html = decision_html(record)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_cache_writes_show_beside_cached_tokens(qtbot: Any) -> None:
    record = replace(
        make_record(id="r-cache"),
        prompt_tokens=12_000,
        cached_tokens=8_000,
        cache_write_tokens=3_500,
    )
    lines = pane_text(qtbot, record).splitlines()  # a table cell per line
    cached = lines.index("Cached tokens")
    assert lines[cached : cached + 4] == ["Cached tokens", "8,000", "Cache writes", "3,500"]


def test_unknown_cache_writes_show_a_dash(qtbot: Any) -> None:
    lines = pane_text(qtbot, make_record(id="r-unknown")).splitlines()
    assert lines[lines.index("Cache writes") + 1] == fmt.DASH
