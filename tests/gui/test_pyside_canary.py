"""Canary for the PySide6 6.12.0 / CPython 3.11 bug: calls to void methods drop a reference
to None, and the process aborts ("deallocating None") after roughly 5,000 of them.

pyproject pins PySide6-Essentials below 6.12; this fails loudly if a build with the
bug comes back. On 3.12+ None is immortal, so the bug cannot show and the test passes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QLabel

CALLS = 500


@pytest.mark.parametrize(
    "void_call",
    [
        pytest.param(lambda o: o.setObjectName("canary"), id="QObject.setObjectName"),
        pytest.param(lambda o: o.killTimer(o.startTimer(1000)), id="QObject.killTimer"),
    ],
)
def test_void_calls_on_a_qobject_keep_none_alive(
    qapp: QApplication, void_call: Callable[[QObject], object]
) -> None:
    assert_none_refs_kept(QObject(), void_call)


def test_void_calls_on_a_widget_keep_none_alive(qapp: QApplication) -> None:
    assert_none_refs_kept(QLabel(), lambda label: label.setText("canary"))


def assert_none_refs_kept(target: QObject, void_call: Callable[..., object]) -> None:
    void_call(target)  # warm up: first calls may cache things
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        void_call(target)
    lost = before - sys.getrefcount(None)
    assert lost < CALLS // 5, (
        f"{lost} references to None lost in {CALLS} void calls: this PySide6 build "
        "(6.12.0 on Python 3.11?) will abort the app; keep PySide6-Essentials < 6.12"
    )
