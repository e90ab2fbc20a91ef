"""`orca-desktop tail` against a real local aiohttp server serving the live feed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from orca_desktop.events import EventHub, RequestFinished
from orca_desktop.gateway.local_api import LocalApiDeps, add_local_api
from orca_desktop.tail import events_url, follow, format_record, run_tail
from orca_desktop.tasks import spawn
from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.stats import Stats
from orca_desktop.telemetry.store import SqliteStore

TOKEN = "sk-orca-test-token"
STARTED_AT = "2025-06-02T09:15:30+00:00"


def make_record(n: int = 1, **overrides: object) -> RequestRecord:
    fields: dict[str, object] = dict(
        id=f"r{n}",
        started_at=STARTED_AT,
        endpoint="/v1/chat/completions",
        client="aider",
        requested_model="auto",
        router="auto",
        strategy="cheapest",
        provider="openai",
        model="gpt-4o-mini",
        status=200,
        prompt_tokens=1200,
        completion_tokens=34,
        cost_usd=Decimal("0.00021"),
        savings_usd=Decimal("0.0031"),
        overhead_ms=1.234,
    )
    fields.update(overrides)
    return RequestRecord(**fields)  # type: ignore[arg-type]


def local_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S")


def test_format_record_shows_the_routing_decision_on_one_line() -> None:
    line = format_record(make_record().to_json())
    assert line == (
        f"{local_time(STARTED_AT)}  aider             auto -> gpt-4o-mini @ openai  auto/cheapest"
        "  200  1200/34 tok  $0.000210  saved $0.003100  +1.2 ms"
    )


def test_format_record_of_a_rejected_request_names_the_error() -> None:
    record = make_record(
        status=404,
        router=None,
        model=None,
        provider=None,
        client=None,
        prompt_tokens=None,
        completion_tokens=None,
        cost_usd=None,
        savings_usd=Decimal("-0.5"),
        overhead_ms=None,
        error="unknown model 'gtp-4o'\n did you mean gpt-4o?",
    )
    line = format_record(record.to_json())
    assert "auto -> - @ -  -  404  -/- tok  $-  saved -$0.500000  +- ms" in line
    assert line.endswith("! unknown model 'gtp-4o' did you mean gpt-4o?")
    assert "\n" not in line


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8787",
        "http://127.0.0.1:8787/",
        "http://127.0.0.1:8787/v1",
        "http://127.0.0.1:8787/v1/",
    ],
)
def test_events_url_accepts_the_base_url_with_or_without_v1(url: str) -> None:
    assert events_url(url) == "http://127.0.0.1:8787/orca/v1/events"


@web.middleware
async def require_token(request: web.Request, handler: Callable) -> web.StreamResponse:  # type: ignore[type-arg]
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return web.json_response({"error": {"message": "bad token"}}, status=401)
    return await handler(request)  # type: ignore[no-any-return]


@dataclass
class Gateway:
    hub: EventHub
    port: int
    stop: Callable[[], Awaitable[None]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


async def start_gateway(tmp_path: Path, hub: EventHub, port: int = 0) -> tuple[web.AppRunner, int]:
    store = SqliteStore(tmp_path / f"t{port}.sqlite3")
    store.start()
    app = web.Application(middlewares=[require_token])
    add_local_api(app, LocalApiDeps(store=store, stats=Stats(), hub=hub))
    app.on_cleanup.append(lambda _app: asyncio.to_thread(store.close))
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, runner.addresses[0][1]


@pytest_asyncio.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    hub = EventHub()
    runner, port = await start_gateway(tmp_path, hub)
    yield Gateway(hub, port, runner.cleanup)
    await runner.cleanup()


async def wait_for_text(buffer: io.StringIO, text: str, count: int = 1) -> None:
    async def poll() -> None:
        while buffer.getvalue().count(text) < count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout=10)


async def cancel(task: asyncio.Task[int]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_tail_prints_a_line_per_finished_request(gateway: Gateway) -> None:
    out, err = io.StringIO(), io.StringIO()
    task = spawn(follow(gateway.url, TOKEN, out, err), name="test-tail")
    await wait_for_text(err, "following")
    records = [make_record(1), make_record(2, model="claude-haiku", provider="anthropic")]
    for r in records:
        gateway.hub.publish(RequestFinished(request_id=r.id, at_ns=0, record=r))
    await wait_for_text(out, "\n", count=2)
    await cancel(task)
    assert out.getvalue().splitlines() == [format_record(r.to_json()) for r in records]
    assert TOKEN not in out.getvalue() + err.getvalue()


@pytest.mark.asyncio
async def test_tail_reconnects_when_the_gateway_restarts(gateway: Gateway, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    task = spawn(follow(gateway.url, TOKEN, out, err, first_backoff_s=0.05), name="test-tail")
    await wait_for_text(err, "following")
    await gateway.stop()
    runner, _ = await start_gateway(tmp_path, gateway.hub, port=gateway.port)
    try:
        await wait_for_text(err, "reconnected")
        gateway.hub.publish(RequestFinished(request_id="r9", at_ns=0, record=make_record(9)))
        await wait_for_text(out, "\n")
        await cancel(task)
    finally:
        await runner.cleanup()
    assert out.getvalue() == format_record(make_record(9).to_json()) + "\n"


@pytest.mark.asyncio
async def test_tail_exits_non_zero_on_a_refused_token(gateway: Gateway) -> None:
    out = io.StringIO()
    assert await asyncio.wait_for(follow(gateway.url, "sk-orca-wrong", out), timeout=10) == 1
    assert "refused the token (401)" in out.getvalue()
    assert "orca-desktop token" in out.getvalue()
    assert "sk-orca-wrong" not in out.getvalue()


@pytest.mark.asyncio
async def test_tail_exits_non_zero_when_no_gateway_runs() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = io.StringIO()
    code = await asyncio.wait_for(follow(f"http://127.0.0.1:{port}/v1", TOKEN, out), timeout=10)
    assert code == 1
    assert "is `orca-desktop serve` running?" in out.getvalue()


def test_run_tail_exits_zero_on_ctrl_c() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def serve_headers_then_hang() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                while "following" not in out.getvalue():
                    time.sleep(0.01)
                os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C
                with contextlib.suppress(OSError):
                    conn.recv(1)  # until the client hangs up

        out = io.StringIO()
        server = threading.Thread(target=serve_headers_then_hang, daemon=True)
        server.start()
        assert run_tail(f"http://127.0.0.1:{port}", TOKEN, out) == 0
        server.join(timeout=5)
    assert "following" in out.getvalue()
