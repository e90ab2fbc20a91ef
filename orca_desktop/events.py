"""Event types (facts, in the past tense) and the EventHub that fans them out.

`EventHub.publish` is synchronous and cheap: subscribers only append to their
own bounded buffers. The gateway never waits for a subscriber. An event never
carries a secret, a prompt or a completion.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from orca_desktop.telemetry.record import RequestRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """An authenticated request on a routed endpoint passed validation; routing comes next.

    Rejected requests (400, 413, 401) never fire it; every request that does fire it
    later fires exactly one `RequestFinished` with the same id.
    """

    request_id: str
    at_ns: int
    endpoint: str
    requested_model: str | None
    client: str | None


@dataclass(frozen=True, slots=True)
class RequestFinished:
    """A request ended: answered, rejected (400/404), failed upstream, or left by its client.

    `record.status` tells which (499 = the client went away). Fired exactly once
    per authenticated request, after the last byte went out.
    """

    request_id: str
    at_ns: int
    record: RequestRecord


@dataclass(frozen=True, slots=True)
class GatewayStateChanged:
    """The listener started, stopped, paused, resumed or failed; `detail` says why for errors."""

    at_ns: int
    state: Literal["running", "paused", "stopped", "error"]
    base_url: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class KeyStatusChanged:
    """A provider key was saved, deleted, tested, or rejected upstream (401/403)."""

    at_ns: int
    provider: str
    status: Literal["saved", "deleted", "ok", "rejected", "unreachable"]
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Reset:
    """Sent to a subscriber that fell behind and lost events: take a fresh snapshot."""

    at_ns: int


Event = RequestReceived | RequestFinished | GatewayStateChanged | KeyStatusChanged | Reset
Callback = Callable[[Event], None]


class EventHub:
    """Synchronous fan-out of events to subscribers. Subscribers must return at once."""

    def __init__(self) -> None:
        # A tuple, replaced on (un)subscribe: publish runs twice per request and needs
        # no copy to stay safe against a callback that (un)subscribes.
        self._subscribers: tuple[Callback, ...] = ()

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Register `callback`; returns the function that unsubscribes it."""
        self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                kept = list(self._subscribers)
                kept.remove(callback)
                self._subscribers = tuple(kept)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception:  # a broken subscriber must not break a request
                log.exception("event subscriber %r failed", callback)


class EventQueue:
    """A bounded async buffer of events for one consumer (SSE feed, tail, GUI).

    When full, the oldest events are dropped and the consumer receives a
    `Reset` before the next event, meaning "take a fresh snapshot".
    """

    def __init__(self, hub: EventHub, maxlen: int = 1000) -> None:
        self._items: deque[Event] = deque()
        self._maxlen = maxlen
        self._lost = False
        self._ready = asyncio.Event()
        self._unsubscribe = hub.subscribe(self._push)

    def _push(self, event: Event) -> None:
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self._lost = True
        self._items.append(event)
        self._ready.set()

    def drain(self) -> list[Event]:
        """Everything buffered now, oldest first, with a leading `Reset` if events were lost."""
        out: list[Event] = []
        if self._lost:
            self._lost = False
            out.append(Reset(at_ns=0))
        out.extend(self._items)
        self._items.clear()
        self._ready.clear()
        return out

    async def get_batch(self) -> list[Event]:
        """Wait until at least one event is buffered, then drain."""
        while not self._items and not self._lost:
            await self._ready.wait()
        return self.drain()

    def close(self) -> None:
        self._unsubscribe()
