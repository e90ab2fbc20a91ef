"""The live read model of recent requests: a bounded ring of rows keyed by request id.

Owns what the window's request table shows, without knowing Qt. `apply` turns
a batch of events into row changes and reports exactly what changed, so a
table adapter can emit one insert block, one remove block and one
changed-range per batch. Never imports Qt, never does I/O, never blocks:
every operation is O(batch size) or O(maxlen) at worst.

Rows appear when a request arrives: `RequestReceived` adds an in-flight row
(status 0, only id / started_at / endpoint / requested_model / client filled
in), and `RequestFinished` replaces it in place with the full record. A
`RequestFinished` for an unknown id (its in-flight row was evicted, or the
view started mid-request) adds the row at the top. A request that arrives and
finishes within one batch is added once, finished. Totals are `Stats`' job.

A view fed on every request but read rarely (the core's, for a window's first
snapshot) takes events through `note`, which only queues them; they are applied
in one batch when the view is next read, or when the queue is full.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from orca_desktop.events import Event, RequestFinished, RequestReceived, Reset
from orca_desktop.telemetry.record import RequestRecord


@dataclass(frozen=True, slots=True)
class Change:
    """What one `apply` did, relative to the rows before it.

    The rows after are `new_ids` (newest first) followed by the rows before
    minus the `evicted` oldest ones. `changed_ids` are rows present before and
    after whose record was replaced. A row added and evicted within the same
    batch appears in neither. `reset` means the batch held a `Reset`: events
    were lost, so the caller should take a snapshot from the store, `load` it
    and reset its model instead of applying the other fields.
    """

    new_ids: tuple[str, ...] = ()
    changed_ids: tuple[str, ...] = ()
    evicted: int = 0
    reset: bool = False

    def __bool__(self) -> bool:
        return bool(self.new_ids or self.changed_ids or self.evicted or self.reset)


class LiveView:
    """The newest `maxlen` requests, newest first, each as a `RequestRecord`.

    Invariant: at most `maxlen` rows; a row keeps its position when its record
    is replaced; eviction always removes the oldest rows.
    """

    def __init__(
        self, maxlen: int = 500, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._clock = clock
        # oldest first, so eviction is popitem(last=False) and insertion an append
        self._rows: OrderedDict[str, RequestRecord] = OrderedDict()
        self._noted: deque[Event] = deque()
        self._noted_max = 4 * maxlen

    def __len__(self) -> int:
        self._catch_up()
        return len(self._rows)

    def rows(self) -> list[RequestRecord]:
        """All rows, newest first."""
        self._catch_up()
        return list(reversed(self._rows.values()))

    def get(self, request_id: str) -> RequestRecord | None:
        self._catch_up()
        return self._rows.get(request_id)

    def note(self, event: Event) -> None:
        """Queue `event` for the next read: O(1) on the request path."""
        self._noted.append(event)
        if len(self._noted) >= self._noted_max:
            self._catch_up()

    def _catch_up(self) -> None:
        if self._noted:
            batch = list(self._noted)
            self._noted.clear()
            self._apply(batch)

    def load(self, records: Iterable[RequestRecord]) -> None:
        """Replace every row with `records` (newest first, as `SqliteStore.recent` gives them)."""
        newest_first = list(records)[: self.maxlen]
        self._rows = OrderedDict((r.id, r) for r in reversed(newest_first))

    def apply(self, events: Sequence[Event]) -> Change:
        """Apply a batch of events (oldest first) and report what changed."""
        self._catch_up()
        return self._apply(events)

    def _apply(self, events: Sequence[Event]) -> Change:
        # A request that arrives and finishes in the same batch (under load, nearly
        # every one) goes in once, finished, at its arrival's place: no in-flight row
        # is built only to be replaced a few events later.
        finished: dict[str, RequestRecord] = {}
        for event in events:
            if type(event) is RequestFinished:
                finished[event.record.id] = event.record  # the last one wins, as in place
        rows = self._rows
        added: dict[str, None] = {}  # ids added in this batch, oldest first (ordered set)
        changed: dict[str, None] = {}  # ordered set
        reset = False
        for event in events:
            if isinstance(event, RequestFinished):
                rid = event.record.id
                if rid in added:
                    continue  # placed, finished, where it arrived (or by an earlier finish)
                record = finished[rid]
            elif isinstance(event, RequestReceived):
                rid = event.request_id
                if rid in rows:
                    continue
                record = finished.get(rid) or self._in_flight(event)
            elif isinstance(event, Reset):
                reset = True
                continue
            else:
                continue
            if rid in rows:
                changed[rid] = None
            else:
                added[rid] = None
            rows[rid] = record
        evicted = 0
        while len(rows) > self.maxlen:
            oldest, _ = rows.popitem(last=False)
            evicted += oldest not in added
        return Change(
            new_ids=tuple(rid for rid in reversed(added) if rid in rows),
            changed_ids=tuple(rid for rid in changed if rid in rows),
            evicted=evicted,
            reset=reset,
        )

    def _in_flight(self, event: RequestReceived) -> RequestRecord:
        return RequestRecord(
            id=event.request_id,
            started_at=self._clock().isoformat(),
            endpoint=event.endpoint,
            client=event.client,
            requested_model=event.requested_model,
            status=0,
        )
