"""Telemetry: the request record, its SQLite store, the live read model and totals.

Public names are imported lazily. `orca_desktop.events` imports
`telemetry.record` while `telemetry.live` imports `events`; importing the
submodules eagerly here would make that a circular import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orca_desktop.telemetry.live import Change, LiveView
    from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord
    from orca_desktop.telemetry.stats import SeriesPoint, Stats
    from orca_desktop.telemetry.store import SqliteStore
    from orca_desktop.telemetry.totals import DayRollup, Tally, Totals, TotalsRow

__all__ = [
    "Attempt",
    "CandidateView",
    "Change",
    "DayRollup",
    "LiveView",
    "RequestRecord",
    "SeriesPoint",
    "SqliteStore",
    "Stats",
    "Tally",
    "Totals",
    "TotalsRow",
]

_HOME = {
    "Attempt": "record",
    "CandidateView": "record",
    "RequestRecord": "record",
    "Change": "live",
    "LiveView": "live",
    "SeriesPoint": "stats",
    "Stats": "stats",
    "SqliteStore": "store",
    "DayRollup": "totals",
    "Tally": "totals",
    "Totals": "totals",
    "TotalsRow": "totals",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
