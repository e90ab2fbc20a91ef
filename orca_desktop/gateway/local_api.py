"""The local API: `/orca/v1/requests`, `/orca/v1/stats` and the `/orca/v1/events` live feed.

Owns these three routes and nothing else; authentication is the gate's job
(`gateway/auth.py`, applied through `guard`), so nothing here looks at tokens. Never
blocks the event loop: store reads and their JSON assembly run in the default
executor, and a slow SSE client only ever fills its own bounded `EventQueue`
(it then gets `event: reset`). A record is serialised once per event, however
many feeds are open.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from orca_desktop.events import Event, EventHub, EventQueue, RequestFinished, Reset
from orca_desktop.tasks import spawn
from orca_desktop.telemetry.stats import Stats
from orca_desktop.telemetry.store import SqliteStore
from orca_desktop.wire.errors import openai_error_body

log = logging.getLogger(__name__)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

_RESET_FRAME = b"event: reset\ndata: {}\n\n"
_HEARTBEAT_FRAME = b": keep-alive\n\n"
_HELLO_FRAME = b": connected\n\n"


@dataclass(frozen=True, slots=True)
class LocalApiDeps:
    """What the local API reads from. `closing` set → every open feed ends cleanly.

    `add_local_api` also sets `closing` on the app's shutdown, so open feeds
    never hold up `AppRunner.cleanup`.
    """

    store: SqliteStore
    stats: Stats
    hub: EventHub
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    heartbeat_s: float = 15.0
    feed_maxlen: int = 1000  # events buffered per SSE client before it gets a reset


class _FrameCache:
    """SSE frames by event, so each event is serialised once for all feeds.

    Events are slotted dataclasses without weak references, so entries are
    keyed by `id(event)` and keep the event alive: an id cannot be reused
    while its entry exists. The oldest entries go beyond `size`.
    """

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._frames: OrderedDict[int, tuple[Event, bytes]] = OrderedDict()

    def frame(self, event: Event) -> bytes:
        if isinstance(event, Reset):
            return _RESET_FRAME
        if not isinstance(event, RequestFinished):
            return b""
        hit = self._frames.get(id(event))
        if hit is not None and hit[0] is event:
            return hit[1]
        data = b"event: request\ndata: " + orjson.dumps(event.record.to_json()) + b"\n\n"
        self._frames[id(event)] = (event, data)
        if len(self._frames) > self._size:
            self._frames.popitem(last=False)
        return data


_DEPS = web.AppKey("orca_local_api_deps", LocalApiDeps)
_FRAMES = web.AppKey("orca_local_api_frames", _FrameCache)


def add_local_api(
    app: web.Application,
    deps: LocalApiDeps,
    guard: Callable[[_Handler], _Handler] = lambda handler: handler,
) -> None:
    """Add the `/orca/v1/*` routes to `app`, reading from `deps`, each behind `guard`."""
    app[_DEPS] = deps
    app[_FRAMES] = _FrameCache()
    app.router.add_get("/orca/v1/requests", guard(_handle_requests))
    app.router.add_get("/orca/v1/stats", guard(_handle_stats))
    app.router.add_get("/orca/v1/events", guard(_handle_events))
    app.on_shutdown.append(_close_feeds)


async def _close_feeds(app: web.Application) -> None:
    app[_DEPS].closing.set()


# -- /orca/v1/requests ---------------------------------------------------------


async def _handle_requests(request: web.Request) -> web.Response:
    store = request.app[_DEPS].store
    limit = _limit(request.query.get("limit"))
    if limit is None:
        return _error(400, f"limit must be an integer from 1 to {MAX_LIMIT}", param="limit")
    before = request.query.get("before") or None
    loop = asyncio.get_running_loop()
    try:
        body = await loop.run_in_executor(None, _requests_body, store, limit, before)
    except KeyError:
        return _error(400, f"before: no request with id {before!r}", param="before")
    return web.Response(body=body, content_type="application/json")


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_LIMIT else None


def _requests_body(store: SqliteStore, limit: int, before: str | None) -> bytes:
    """`{"data": [...]}` built from the stored JSON texts (runs in an executor)."""
    return b'{"data":[' + b",".join(store.recent_json(limit, before)) + b"]}"


def _error(status: int, message: str, *, param: str | None) -> web.Response:
    body = openai_error_body(status, message, param=param, code="invalid_value")
    return web.Response(status=status, body=body, content_type="application/json")


# -- /orca/v1/stats ------------------------------------------------------------


async def _handle_stats(request: web.Request) -> web.Response:
    body: dict[str, Any] = request.app[_DEPS].stats.to_json(datetime.now(UTC))
    return web.Response(body=orjson.dumps(body), content_type="application/json")


# -- /orca/v1/events -----------------------------------------------------------


async def _handle_events(request: web.Request) -> web.StreamResponse:
    deps = request.app[_DEPS]
    frames = request.app[_FRAMES]
    # subscribe before answering, so nothing that ends after the headers is missed
    queue = EventQueue(deps.hub, maxlen=deps.feed_maxlen)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    closing = spawn(deps.closing.wait(), name="orca-sse-closing")
    batch: asyncio.Task[list[Event]] | None = None
    try:
        await response.prepare(request)
        await response.write(_HELLO_FRAME)
        while not deps.closing.is_set():
            if batch is None:
                batch = spawn(queue.get_batch(), name="orca-sse-batch")
            done, _ = await asyncio.wait(
                (batch, closing), timeout=deps.heartbeat_s, return_when=asyncio.FIRST_COMPLETED
            )
            if batch in done:
                payload = b"".join(frames.frame(e) for e in batch.result())
                batch = None
                if payload:
                    await response.write(payload)
            elif not done:
                await response.write(_HEARTBEAT_FRAME)
    except ConnectionError:
        log.debug("events feed: the client went away")
    finally:
        queue.close()
        closing.cancel()
        if batch is not None:
            batch.cancel()
    return response
