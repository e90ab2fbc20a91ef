"""The live request table: a `QAbstractTableModel` over a `LiveView`, and its view.

Per applied batch the model emits at most one `beginRemoveRows` block (rows
evicted from the bottom), one `beginInsertRows` block (new rows at the top)
and one `dataChanged` over the span of changed rows. Display strings are
computed the first time a row is drawn and kept until it changes; `data()` is
otherwise a lookup. Under load a tick brings hundreds of rows of which a screenful
is ever drawn, so formatting on arrival would be mostly wasted. A model reset
happens only for a snapshot (start-up, a `Reset` event, or a LiveView whose
order does not match the deltas).

The view paints through `CellDelegate`, which draws each cell's cached string
(`RequestTableModel.cell`) instead of asking `data()` for seven roles per cell.
While no view can see the rows (another page is shown, the window is minimized)
the window calls `set_shown(False)`: batches then only update the LiveView, and
showing the table again catches up with one remove, insert and change block.
Within a batch, a request that arrives and finishes is applied once, as finished
(the LiveView does that).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from orca_desktop.events import Event, RequestFinished
from orca_desktop.gui import _format as fmt
from orca_desktop.gui._core import LiveViewLike
from orca_desktop.gui._style import ERROR_COLOR, MUTED_COLOR, WARN_COLOR
from orca_desktop.gui._table_delegate import CellDelegate
from orca_desktop.telemetry.record import RequestRecord

COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "Time"),
    ("tool", "Tool"),
    ("requested", "Requested"),
    ("model", "Served model"),
    ("provider", "Provider"),
    ("byok", "BYOK"),
    ("status", "Status"),
    ("overhead", "Overhead"),
    ("latency", "Latency"),
    ("ttft", "TTFT"),
    ("tokens", "Tokens"),  # "in / out" in each cell
    ("cost", "Cost"),
    ("saved", "Saved"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
_NUMERIC = frozenset({"overhead", "latency", "ttft", "tokens", "cost", "saved"})
_ALIGN = tuple(
    (Qt.AlignmentFlag.AlignRight if key in _NUMERIC else Qt.AlignmentFlag.AlignLeft)
    | Qt.AlignmentFlag.AlignVCenter
    for key in COLUMN_KEYS
)
_STATUS_COL = COLUMN_KEYS.index("status")
_SAVED_COL = COLUMN_KEYS.index("saved")
_NCOLS = len(COLUMNS)
# data() answers tooltips, accessibility and tests (the delegate paints from cell()):
# compare plain ints, not enum members
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_USER = int(Qt.ItemDataRole.UserRole.value)
_NO_COLORS: tuple[QColor | None, ...] = (None,) * _NCOLS

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class RowView:
    """A row as displayed: its record plus the strings and colours computed once."""

    record: RequestRecord
    cells: tuple[str, ...]
    colors: tuple[QColor | None, ...]  # per column: the text colour, None for the default


def row_view(record: RequestRecord) -> RowView:
    r = record
    cells = (
        fmt.local_time(r.started_at),
        r.client or fmt.DASH,
        r.requested_model or fmt.DASH,
        r.model or fmt.DASH,
        r.provider or fmt.DASH,
        fmt.yes_no(r.byok),
        fmt.status_text(r.status, r.error),
        fmt.ms(r.overhead_ms),
        fmt.ms(r.upstream_ms),
        fmt.ms(r.ttft_ms),
        fmt.tokens_in_out(r.prompt_tokens, r.completion_tokens),
        fmt.money(r.cost_usd),
        fmt.money(r.savings_usd),
    )
    if r.status == 0:
        status_color: QColor | None = MUTED_COLOR
    elif r.status == 499:
        status_color = WARN_COLOR
    elif r.status >= 400 or r.error:
        status_color = ERROR_COLOR
    else:
        status_color = None
    saved_color = ERROR_COLOR if r.savings_usd is not None and r.savings_usd < 0 else None
    if status_color is None and saved_color is None:
        return RowView(r, cells, _NO_COLORS)
    colors: list[QColor | None] = [None] * _NCOLS
    colors[_STATUS_COL] = status_color
    colors[_SAVED_COL] = saved_color
    return RowView(r, cells, tuple(colors))


class RequestTableModel(QAbstractTableModel):
    """Recent requests, newest first, bounded by the LiveView it adapts.

    `rows_changed` carries the ids that are new or changed in an applied batch
    (all ids after a reset), so the detail pane redraws only when its row did.
    `rows_leaving` carries the ids about to be evicted from the bottom, before
    Qt is told: a view can clear its selection first, so that Qt does not move
    the current row to a neighbour the user never picked.
    """

    rows_changed = Signal(object)  # frozenset[str]
    rows_leaving = Signal(object)  # frozenset[str]

    def __init__(
        self,
        live_factory: Callable[[], LiveViewLike],
        *,
        snapshot: Callable[[], Sequence[RequestRecord]] = tuple,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._live_factory = live_factory
        self._snapshot = snapshot
        self._live = live_factory()
        self._records: list[RequestRecord] = []
        self._views: list[RowView | None] = []  # None: not drawn since it arrived or changed
        self._ids: list[str] = []
        self._shown = True
        self._behind = False  # rows applied to the LiveView while not shown
        self._behind_changed: set[str] = set()
        self._behind_reset = False

    # -- Qt's model interface: lookups only --------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        row, col = index.row(), index.column()  # -1 for an invalid index
        if not (0 <= row < len(self._records) and 0 <= col < _NCOLS):
            return None
        if role == _DISPLAY:
            return self._view(row).cells[col]
        if role == _ALIGNMENT:
            return _ALIGN[col]
        if role == _FOREGROUND:
            return self._view(row).colors[col]
        if role == _TOOLTIP and col == _STATUS_COL:
            return self._records[row].error
        if role == _USER:
            return self._records[row].id
        return None

    def _view(self, row: int) -> RowView:
        view = self._views[row]
        if view is None:
            view = self._views[row] = row_view(self._records[row])
        return view

    def cell(self, row: int, col: int) -> tuple[str, QColor | None]:
        """What the delegate draws: the display string and its colour (None: the default)."""
        view = self._view(row)
        return view.cells[col], view.colors[col]

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN[section]
        return None

    # -- our interface ---------------------------------------------------------------------

    def record(self, row: int) -> RequestRecord | None:
        return self._records[row] if 0 <= row < len(self._records) else None

    def row_of(self, request_id: str) -> int | None:
        try:
            return self._ids.index(request_id)
        except ValueError:
            return None

    def records(self) -> list[RequestRecord]:
        """Every row's record, newest first (for charts)."""
        return list(self._records)

    @property
    def shown(self) -> bool:
        return self._shown

    def set_shown(self, shown: bool) -> None:
        """Say whether a view can see the rows; showing again catches up at once.

        While not shown, `apply` and `load_snapshot` only update the LiveView:
        no Qt signal, no view work. Showing brings the rows up to date with at
        most one remove, one insert and one dataChanged (a reset after a snapshot).
        """
        if shown == self._shown:
            return
        self._shown = shown
        if shown:
            if self._behind_reset:
                self._reset_to(list(self._live.rows()))
            elif self._behind:
                self._sync(self._behind_changed)
            self._behind = self._behind_reset = False
            self._behind_changed = set()

    def load_snapshot(self, records: Sequence[RequestRecord] | None = None) -> None:
        """Replace everything with `records` (newest first), or the snapshot source's rows."""
        rows = list(self._snapshot() if records is None else records)
        self._live = self._live_factory()
        load = getattr(self._live, "load", None)
        if callable(load):
            load(rows)
        elif rows:
            self._live.apply(
                [RequestFinished(request_id=r.id, at_ns=0, record=r) for r in reversed(rows)]
            )
        if self._shown:
            self._reset_to(list(self._live.rows()))
        else:
            self._behind_reset = True

    def apply(self, events: Sequence[Event]) -> None:
        """Apply one tick's events with at most one remove, one insert and one dataChanged."""
        if not events:
            return
        change = self._live.apply(events)  # it applies arrive + finish in one batch once
        if change.reset:
            self.load_snapshot()
            return
        if not self._shown:
            self._behind = True
            self._behind_changed.update(change.changed_ids)
            return
        self._sync(set(change.changed_ids))

    def _sync(self, changed_ids: set[str]) -> None:
        """Bring the rows in line with the LiveView: evicted, new and `changed_ids` rows."""
        rows = list(self._live.rows())
        ids = [r.id for r in rows]
        known = set(self._ids)
        fresh = 0
        while fresh < len(ids) and ids[fresh] not in known:
            fresh += 1
        kept = ids[fresh:]
        if len(kept) > len(self._ids) or self._ids[: len(kept)] != kept:
            self._reset_to(rows)  # the LiveView reordered rows: cheaper to start over
            return
        self._remove_bottom(len(self._ids) - len(kept))
        self._insert_top(rows[:fresh])
        changed = self._update_changed(rows, fresh, changed_ids)
        touched = frozenset(ids[:fresh]) | changed
        if touched:
            self.rows_changed.emit(touched)

    # -- helpers ---------------------------------------------------------------------------

    def _reset_to(self, rows: list[RequestRecord]) -> None:
        self.beginResetModel()
        self._records = list(rows)
        self._views = [None] * len(rows)
        self._ids = [r.id for r in rows]
        self.endResetModel()
        self.rows_changed.emit(frozenset(self._ids))

    def _remove_bottom(self, n: int) -> None:
        if n <= 0:
            return
        first = len(self._records) - n
        self.rows_leaving.emit(frozenset(self._ids[first:]))
        self.beginRemoveRows(QModelIndex(), first, len(self._records) - 1)
        del self._records[first:]
        del self._views[first:]
        del self._ids[first:]
        self.endRemoveRows()

    def _insert_top(self, rows: list[RequestRecord]) -> None:
        if not rows:
            return
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._records[0:0] = rows
        self._views[0:0] = [None] * len(rows)
        self._ids[0:0] = [r.id for r in rows]
        self.endInsertRows()

    def _update_changed(
        self, rows: list[RequestRecord], start: int, changed_ids: set[str]
    ) -> frozenset[str]:
        if not changed_ids:
            return frozenset()
        positions = [i for i in range(start, len(rows)) if rows[i].id in changed_ids]
        for i in positions:
            self._records[i] = rows[i]
            self._views[i] = None
        if positions:
            top = self.index(positions[0], 0)
            bottom = self.index(positions[-1], len(COLUMNS) - 1)
            self.dataChanged.emit(top, bottom)
        return frozenset(rows[i].id for i in positions)


class RequestTable(QTableView):
    """The table view: fixed row height, no live resize-to-contents, whole-row selection.

    While there are no rows it says so (and where to point a tool) instead of
    showing a blank grid.
    """

    def __init__(self, model: RequestTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty_text = "No requests yet."
        self.setModel(model)
        self.cell_delegate = CellDelegate(model.cell, _ALIGN, self)
        self.setItemDelegate(self.cell_delegate)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setSortingEnabled(False)  # newest first; sorting live rows would reshuffle every tick
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(26)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        widths = {
            "time": 66,
            "tool": 84,
            "requested": 112,
            "model": 116,
            "provider": 72,
            "byok": 48,
            "status": 78,
            "overhead": 80,
            "latency": 66,
            "ttft": 62,
            "tokens": 92,
            "cost": 72,
            # Stretched, the last column never gets narrower than its own width: at 72 all
            # thirteen fit beside the vertical scroll bar in the default window. (With a
            # horizontal bar too, every row insert makes Qt repaint both bars.)
            "saved": 72,
        }
        for col, key in enumerate(COLUMN_KEYS):
            if key in widths:
                self.setColumnWidth(col, widths[key])

    def paintEvent(self, event: QPaintEvent) -> None:
        self.cell_delegate.prepare(self)
        super().paintEvent(event)
        if self.model().rowCount() == 0 and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(MUTED_COLOR)
            painter.drawText(
                self.viewport().rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.empty_text,
            )
