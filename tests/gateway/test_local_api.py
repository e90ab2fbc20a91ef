"""The local API through a real aiohttp server on 127.0.0.1:0 and a real HTTP client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from orca_desktop.events import EventHub, GatewayStateChanged, RequestFinished
from orca_desktop.gateway.local_api import LocalApiDeps, add_local_api
from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.stats import Stats
from orca_desktop.telemetry.store import SqliteStore


def make_record(n: int, *, status: int = 200, cost_usd: str = "0.25") -> RequestRecord:
    return RequestRecord(
        id=f"r{n}",
        started_at="2025-06-02T09:00:00+00:00",
        endpoint="/v1/chat/completions",
        client="curl",
        requested_model="auto",
        provider="openai",
        model="gpt-4o-mini",
        status=status,
        cost_usd=Decimal(cost_usd),
        savings_usd=Decimal("1"),
        overhead_ms=2.0,
    )


def finished(record: RequestRecord) -> RequestFinished:
    return RequestFinished(request_id=record.id, at_ns=0, record=record)


@dataclass
class Gateway:
    url: str
    deps: LocalApiDeps
    http: aiohttp.ClientSession


@pytest_asyncio.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    store = SqliteStore(tmp_path / "telemetry.sqlite3", flush_interval_s=0.01)
    store.start()
    deps = LocalApiDeps(store=store, stats=Stats(), hub=EventHub(), feed_maxlen=3)
    deps.hub.subscribe(lambda e: store.add(e.record) if isinstance(e, RequestFinished) else None)
    deps.hub.subscribe(deps.stats.on_event)
    app = web.Application()
    add_local_api(app, deps)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        yield Gateway(f"http://127.0.0.1:{port}", deps, http)
        await runner.cleanup()
    store.close()


async def get_json(gw: Gateway, path: str, status: int = 200) -> dict:  # type: ignore[type-arg]
    async with gw.http.get(gw.url + path) as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        return await resp.json()  # type: ignore[no-any-return]


@pytest.mark.asyncio
async def test_requests_are_listed_newest_first_and_paged_with_before(gateway: Gateway) -> None:
    records = [make_record(n) for n in range(7)]
    for r in records:
        gateway.deps.hub.publish(finished(r))
    first = await get_json(gateway, "/orca/v1/requests?limit=3")
    assert [d["id"] for d in first["data"]] == ["r6", "r5", "r4"]
    assert first["data"][0] == records[6].to_json()
    second = await get_json(gateway, "/orca/v1/requests?limit=3&before=r4")
    assert [d["id"] for d in second["data"]] == ["r3", "r2", "r1"]
    everything = await get_json(gateway, "/orca/v1/requests")
    assert len(everything["data"]) == 7


@pytest.mark.asyncio
@pytest.mark.parametrize("limit", ["0", "501", "ten", "-1", ""])
async def test_a_bad_limit_is_a_400_naming_the_param(gateway: Gateway, limit: str) -> None:
    body = await get_json(gateway, f"/orca/v1/requests?limit={limit}", status=400)
    error = body["error"]
    assert error["param"] == "limit"
    assert "500" in error["message"]
    assert error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}


@pytest.mark.asyncio
async def test_an_unknown_before_is_a_400_naming_the_param(gateway: Gateway) -> None:
    body = await get_json(gateway, "/orca/v1/requests?before=nope", status=400)
    assert body["error"]["param"] == "before"


@pytest.mark.asyncio
async def test_stats_sum_the_finished_requests(gateway: Gateway) -> None:
    gateway.deps.hub.publish(finished(make_record(1, cost_usd="0.1")))
    gateway.deps.hub.publish(finished(make_record(2, cost_usd="0.2", status=502)))
    body = await get_json(gateway, "/orca/v1/stats")
    assert set(body) == {"today", "all_time", "unauthenticated"}
    assert body["all_time"]["requests"] == 2
    assert body["all_time"]["errors"] == 1
    assert body["all_time"]["cost_usd"] == 0.3
    assert body["all_time"]["savings_usd"] == 2.0
    assert body["all_time"]["overhead_ms_p50"] == pytest.approx(2.0, rel=0.006)


async def read_frame(resp: aiohttp.ClientResponse) -> list[str]:
    """The lines of the next SSE frame (up to its blank line)."""
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(resp.content.readline(), timeout=5)
        assert raw, "the feed ended"
        line = raw.decode().rstrip("\n")
        if not line:
            return lines
        lines.append(line)


@pytest.mark.asyncio
async def test_events_delivers_each_finished_request(gateway: Gateway) -> None:
    async with gateway.http.get(gateway.url + "/orca/v1/events") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/event-stream"
        assert await read_frame(resp) == [": connected"]
        gateway.deps.hub.publish(GatewayStateChanged(at_ns=0, state="running", base_url="x"))
        record = make_record(1)
        gateway.deps.hub.publish(finished(record))
        frame = await read_frame(resp)
    assert frame[0] == "event: request"
    assert json.loads(frame[1].removeprefix("data: ")) == record.to_json()


@pytest.mark.asyncio
async def test_a_slow_consumer_gets_a_reset_then_the_newest_events(gateway: Gateway) -> None:
    async with gateway.http.get(gateway.url + "/orca/v1/events") as resp:
        assert await read_frame(resp) == [": connected"]
        for n in range(10):  # feed_maxlen is 3: the feed cannot keep up
            gateway.deps.hub.publish(finished(make_record(n)))
        frames = [await read_frame(resp) for _ in range(4)]
    assert frames[0] == ["event: reset", "data: {}"]
    assert [f[0] for f in frames[1:]] == ["event: request"] * 3
    assert ['"id":"r7"' in f[1] for f in frames[1:]] == [True, False, False]


@pytest.mark.asyncio
async def test_every_feed_gets_the_same_serialised_event(gateway: Gateway) -> None:
    async with (
        gateway.http.get(gateway.url + "/orca/v1/events") as one,
        gateway.http.get(gateway.url + "/orca/v1/events") as two,
    ):
        assert await read_frame(one) == await read_frame(two) == [": connected"]
        gateway.deps.hub.publish(finished(make_record(5)))
        assert await read_frame(one) == await read_frame(two)


@pytest.mark.asyncio
async def test_feed_sends_heartbeats_and_ends_when_closing_is_set(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.sqlite3")
    store.start()
    deps = LocalApiDeps(store=store, stats=Stats(), hub=EventHub(), heartbeat_s=0.05)
    app = web.Application()
    add_local_api(app, deps)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/orca/v1/events"
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert await read_frame(resp) == [": connected"]
            assert await read_frame(resp) == [": keep-alive"]
            deps.closing.set()
            rest = await asyncio.wait_for(resp.content.read(), timeout=5)
            assert rest in (b"", b": keep-alive\n\n")  # then a clean end of stream
    finally:
        await runner.cleanup()
        store.close()
    assert not deps.hub._subscribers  # the feed's queue unsubscribed


@pytest.mark.asyncio
async def test_app_shutdown_ends_open_feeds(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.sqlite3")
    store.start()
    deps = LocalApiDeps(store=store, stats=Stats(), hub=EventHub())
    app = web.Application()
    add_local_api(app, deps)
    runner = web.AppRunner(app, shutdown_timeout=30)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/orca/v1/events"
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert await read_frame(resp) == [": connected"]
            await asyncio.wait_for(runner.cleanup(), timeout=5)  # not the 30 s timeout
            assert deps.closing.is_set()
    finally:
        store.close()


@pytest.mark.asyncio
async def test_a_feed_unsubscribes_when_its_client_goes_away(gateway: Gateway) -> None:
    subscribers = len(gateway.deps.hub._subscribers)
    async with gateway.http.get(gateway.url + "/orca/v1/events") as resp:
        assert await read_frame(resp) == [": connected"]
        assert len(gateway.deps.hub._subscribers) == subscribers + 1
        resp.close()

    async def unsubscribed() -> None:
        while len(gateway.deps.hub._subscribers) > subscribers:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(unsubscribed(), timeout=5)
