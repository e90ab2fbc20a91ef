"""The gateway's HTTP surface as raw clients see it: auth, Host/Origin, limits, bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import TOKEN, Gateway, GatewayFactory
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio

GOOD = {"model": "fake-small", "messages": [{"role": "user", "content": "hi"}]}


async def post(
    gw: Gateway,
    body: Any = GOOD,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, Any], Any]:
    hdrs = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    hdrs.update(headers or {})
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with http.post(f"{gw.base_url}/chat/completions", headers=hdrs, **kwargs) as resp:
            data = await resp.json(content_type=None)
            return resp.status, dict(resp.headers), data


def _error(data: Any) -> dict[str, Any]:
    assert set(data) == {"error"}, data
    err = data["error"]
    assert {"message", "type", "param", "code"} <= set(err), err
    return err


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 2.5),
        ("temperature", -0.1),
        ("top_p", 1.5),
        ("max_tokens", 0),
        ("max_completion_tokens", 0),
        ("n", 0),
        ("top_logprobs", 21),
        ("top_logprobs", -1),
        ("presence_penalty", 2.5),
        ("frequency_penalty", -3),
        ("stream", "yes"),
        ("tool_choice", "sometimes"),
        ("reasoning_effort", "extreme"),
        ("response_format", {"type": "xml"}),
        ("logprobs", "true"),
        ("seed", 1.5),
        ("stop", 5),
        ("parallel_tool_calls", "no"),
        ("user", 5),
        ("stream_options", {"include_usage": "yes"}),
        ("logit_bias", {"50256": 500}),
        ("tools", [{"type": "function"}]),
        ("messages", [{"role": "robot", "content": "x"}]),
        ("extra_body", {"route": "cheapest"}),
        ("route", "cheapest"),
    ],
)
async def test_out_of_range_field_is_a_400_naming_it(
    gateway: Gateway, field: str, value: Any
) -> None:
    status, headers, data = await post(gateway, {**GOOD, field: value})
    assert status == 400
    err = _error(data)
    assert field in err["message"] and err["param"].startswith(field)
    assert headers.get("X-Orca-Request-Id")
    assert gateway.fake.requests == []  # nothing reached the provider


async def test_invalid_json_is_a_400(gateway: Gateway) -> None:
    status, _, data = await post(gateway, raw=b'{"model": "fake-small", "messages": [')
    assert status == 400 and "JSON" in _error(data)["message"]


async def test_missing_messages_is_a_400(gateway: Gateway) -> None:
    status, _, data = await post(gateway, {"model": "fake-small"})
    assert status == 400 and "messages" in _error(data)["message"]


async def test_unknown_model_is_a_404_with_close_matches(gateway: Gateway) -> None:
    status, _, data = await post(gateway, {**GOOD, "model": "fake-smal"})
    err = _error(data)
    assert status == 404 and "fake-small" in err["message"]


@pytest.mark.parametrize("auth", [None, "Bearer sk-orca-wrong", "Basic abc"])
async def test_missing_or_wrong_token_is_a_401(gateway: Gateway, auth: str | None) -> None:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": auth} if auth else {}
        async with http.post(
            f"{gateway.base_url}/chat/completions", json=GOOD, headers=headers
        ) as resp:
            assert resp.status == 401
            assert "token" in _error(await resp.json())["message"]
            assert resp.headers.get("X-Orca-Request-Id", "").startswith("orq_")
    assert gateway.fake.requests == []
    assert (await gateway.stats())["unauthenticated"] == 1  # counted, never recorded


async def test_x_api_key_header_is_accepted(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="ok"))
    status, _, data = await post(gateway, headers={"Authorization": "", "x-api-key": TOKEN})
    assert status == 200 and data["choices"][0]["message"]["content"] == "ok"


@pytest.mark.parametrize("host", ["evil.example.com", "attacker.test:8787", "192.168.1.20"])
async def test_foreign_host_is_a_403(gateway: Gateway, host: str) -> None:
    status, headers, data = await post(gateway, headers={"Host": host})
    assert status == 403 and "Host" in _error(data)["message"]
    assert headers["X-Orca-Request-Id"].startswith("orq_")


async def test_unknown_endpoint_is_an_openai_shaped_404(gateway: Gateway) -> None:
    async with aiohttp.ClientSession(headers=gateway.auth) as http:
        async with http.get(f"{gateway.base_url}/embeddingz") as resp:
            assert resp.status == 404
            assert "no such endpoint" in _error(await resp.json())["message"]
            assert resp.headers["X-Orca-Request-Id"].startswith("orq_")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8787", "[::1]:8787", "LOCALHOST:1"])
async def test_loopback_host_names_are_fine(gateway: Gateway, host: str) -> None:
    gateway.fake.script("fake-small", Reply(content="ok"))
    status, _, _ = await post(gateway, headers={"Host": host})
    assert status == 200


async def test_foreign_origin_is_a_403_and_allowed_origin_works(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory(server_extra='allowed_origins = ["https://app.example"]')
    gw.fake.script("fake-small", Reply(content="ok"))
    status, _, data = await post(gw, headers={"Origin": "https://evil.example"})
    assert status == 403 and "Origin" in _error(data)["message"]
    status, _, data = await post(gw, headers={"Origin": "https://app.example"})
    assert status == 200 and data["choices"][0]["message"]["content"] == "ok"
    assert len(gw.fake.requests) == 1  # only the allowed page reached the provider


async def test_an_allowed_page_can_call_the_gateway_from_a_browser(
    gateway_factory: GatewayFactory,
) -> None:
    """CORS as a browser does it: a preflight without credentials, then the request with
    the token; the page may read the answer and Orca's headers. The config's trailing
    slash does not matter (browsers send none)."""
    gw = await gateway_factory(server_extra='allowed_origins = ["https://App.example/"]')
    gw.fake.script("fake-small", Reply(content="ok"))
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
    }
    url = f"{gw.base_url}/chat/completions"
    async with aiohttp.ClientSession() as http:
        async with http.options(url, headers=preflight) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            assert (
                resp.headers["Access-Control-Allow-Headers"]
                == preflight["Access-Control-Request-Headers"]
            )
        foreign = {**preflight, "Origin": "https://evil.example"}
        async with http.options(url, headers=foreign) as resp:
            assert resp.status == 403
            assert "Access-Control-Allow-Origin" not in resp.headers
        async with http.options(url) as resp:  # not a preflight: the token is needed
            assert resp.status == 401
    status, headers, data = await post(gw, headers={"Origin": "https://app.example"})
    assert status == 200 and data["choices"][0]["message"]["content"] == "ok"
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    exposed = {h.strip().lower() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-orca-request-id", "x-orca-provider", "x-orca-route"} <= exposed
    status, headers, _ = await post(gw)  # no Origin: a tool, not a page
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = await post(
        gw, headers={"Origin": "https://app.example", "Authorization": "Bearer wrong"}
    )
    assert status == 401  # the page still needs the token
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"  # it may read why


@pytest.mark.parametrize(
    "head",
    [
        b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        b"GARBAGE\x01 / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n",
    ],
    ids=["header-too-large", "bad-request-line", "bad-content-length"],
)
async def test_a_request_http_cannot_parse_gets_our_error_shape(
    gateway: Gateway, head: bytes
) -> None:
    """aiohttp answers these itself, before any route: still a JSON error with
    X-Orca-Request-Id, and none of the offending bytes quoted back."""
    port = int(gateway.root.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.split()[1].startswith(b"4"), status_line
    assert b"x-orca-request-id: orq_" in headers.lower()
    assert b"content-type: application/json" in headers.lower()
    assert b"server:" not in headers.lower()
    err = _error(json.loads(body))
    assert "malformed HTTP request" in err["message"]
    assert "aaaa" not in err["message"] and "GARBAGE" not in err["message"]


async def test_body_over_the_limit_is_a_413(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(server_extra="max_body_mb = 0.01")
    big = {**GOOD, "messages": [{"role": "user", "content": "x" * 20_000}]}
    status, _, data = await post(gw, big)
    assert status == 413 and _error(data)["code"] == "request_too_large"


async def test_healthz_needs_no_token_and_reveals_nothing(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.root}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok"}
            assert resp.headers["X-Orca-Request-Id"].startswith("orq_")
        async with http.head(f"{gateway.root}/") as resp:
            assert resp.status == 200
        async with http.get(f"{gateway.base_url}/models") as resp:
            assert resp.status == 401


async def test_models_lists_reachable_models_with_prices(gateway: Gateway) -> None:
    async with aiohttp.ClientSession(headers=gateway.auth) as http:
        async with http.get(f"{gateway.base_url}/models") as resp:
            data = (await resp.json())["data"]
    by_id = {m["id"]: m for m in data}
    assert set(by_id) == {"fake-small", "fake-large", "fake-mid"}  # no other provider has a key
    small = by_id["fake-small"]
    assert small["object"] == "model" and small["owned_by"] and "created" in small
    assert small["provider"] == "mock" and small["byok"] is True
    assert small["pricing"] == {
        "input_per_mtok": 0.15,
        "output_per_mtok": 0.6,
        "cached_input_per_mtok": None,
    }
    assert small["context_window"] == 128000 and small["capabilities"] == ["json_schema", "tools"]


async def test_client_disconnect_cancels_the_upstream_request(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small", Reply(content=" ".join(["w"] * 200), chunks=200, chunk_interval=0.05)
    )
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{gateway.base_url}/chat/completions",
            json={**GOOD, "stream": True},
            headers=gateway.auth,
        )
        assert resp.status == 200
        first = await resp.content.readline()
        assert first.startswith(b"data: ")
        resp.close()  # the client goes away mid-stream
    await gateway.fake.wait_for_disconnects(1, timeout=5)
    assert gateway.fake.disconnects == 1


async def test_paused_gateway_answers_503_and_resume_restores(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="ok"))
    await gateway.core.pause()
    status, _, data = await post(gateway)
    assert status == 503 and "paused" in _error(data)["message"]
    await gateway.core.resume()
    status, _, _ = await post(gateway)
    assert status == 200


async def test_every_authenticated_request_gets_a_record(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="ok"))
    await post(gateway)
    await post(gateway, {**GOOD, "temperature": 9})
    await post(gateway, {**GOOD, "model": "nope-model"})
    async with aiohttp.ClientSession(headers=gateway.auth) as http:
        for _ in range(50):
            async with http.get(f"{gateway.root}/orca/v1/requests?limit=10") as resp:
                records = (await resp.json())["data"]
            if len(records) == 3:
                break
            await asyncio.sleep(0.05)
    assert [r["status"] for r in records] == [404, 400, 200]
    assert records[2]["provider"] == "mock" and records[2]["byok"] is True


async def test_a_request_is_announced_when_it_arrives_and_when_it_ends(gateway: Gateway) -> None:
    from orca_desktop.events import RequestFinished, RequestReceived

    seen: list[object] = []
    gateway.core.hub.subscribe(seen.append)
    gateway.fake.script("fake-small", Reply(content="slow", first_byte_delay=0.2))
    task = asyncio.ensure_future(post(gateway))
    for _ in range(100):
        if any(isinstance(e, RequestReceived) for e in seen):
            break
        await asyncio.sleep(0.01)
    arrived = [e for e in seen if isinstance(e, RequestReceived)]
    assert len(arrived) == 1 and not any(isinstance(e, RequestFinished) for e in seen)
    assert arrived[0].requested_model == "fake-small" and arrived[0].client == "aiohttp"
    status, headers, _ = await task
    finished = [e for e in seen if isinstance(e, RequestFinished)]
    assert status == 200 and len(finished) == 1
    assert finished[0].request_id == arrived[0].request_id == headers["X-Orca-Request-Id"]


async def test_every_request_is_announced_before_it_is_recorded_whatever_its_outcome(
    gateway: Gateway,
) -> None:
    from orca_desktop.events import RequestFinished, RequestReceived

    seen: list[object] = []
    gateway.core.hub.subscribe(seen.append)
    gateway.fake.script("fake-small", Reply(content="ok"))
    async with (
        aiohttp.ClientSession(headers=gateway.auth) as http,
        http.post(f"{gateway.base_url}/chat/completions", json={**GOOD, "stream": True}) as resp,
    ):
        assert (await resp.read()).endswith(b"data: [DONE]\n\n")  # answered
    await post(gateway, {**GOOD, "model": "nope-model"})  # routing refused it
    await post(gateway, {**GOOD, "temperature": 9})  # invalid: never announced, but recorded
    for _ in range(100):
        if sum(isinstance(e, RequestFinished) for e in seen) == 3:
            break
        await asyncio.sleep(0.01)
    kinds = [(type(e).__name__, getattr(e, "request_id", None)) for e in seen]
    finished = [e for e in seen if isinstance(e, RequestFinished)]
    received = [e for e in seen if isinstance(e, RequestReceived)]
    assert [k for k, _ in kinds] == [
        "RequestReceived",
        "RequestFinished",
        "RequestReceived",
        "RequestFinished",
        "RequestFinished",
    ]
    assert [e.request_id for e in received] == [e.request_id for e in finished[:2]]
    ok, refused, invalid = (e.record for e in finished)
    assert (ok.status, ok.requested_model, ok.stream, ok.router) == (
        200,
        "fake-small",
        True,
        "pinned",
    )
    assert ok.candidates and ok.candidates[0].estimated_cost_usd is not None
    assert (refused.status, refused.requested_model, refused.router) == (404, "nope-model", None)
    assert (invalid.status, invalid.requested_model, invalid.stream) == (400, "fake-small", False)
    assert received[0].requested_model == "fake-small" and received[0].at_ns < finished[0].at_ns


async def test_every_route_is_behind_the_gate(gateway: Gateway) -> None:
    """The gate is called by each handler (no middleware): none may be left open."""
    app = gateway.core._server.app
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or "/v1/not-a-route"  # the catch-all's pattern
        routes.add(("GET" if route.method == "*" else route.method, path))
    assert {("POST", "/v1/chat/completions"), ("POST", "/v1/messages")} <= routes
    assert {("GET", "/orca/v1/events"), ("GET", "/v1/not-a-route")} <= routes
    liveness = {("GET", "/healthz"), ("HEAD", "/healthz"), ("HEAD", "/")}
    async with aiohttp.ClientSession() as http:
        for method, path in sorted(routes):
            url = f"{gateway.root}{path}"
            async with http.request(method, url, headers={"Host": "evil.example"}) as resp:
                assert resp.status == 403, (method, path)
            if (method, path) in liveness:
                continue
            bad = {"Authorization": "Bearer sk-orca-wrong"}
            async with http.request(method, url, headers=bad) as resp:
                assert resp.status == 401, (method, path)
                assert resp.headers["X-Orca-Request-Id"].startswith("orq_")
    assert gateway.fake.requests == []


async def test_liveness_needs_no_token_and_reveals_nothing_else(gateway: Gateway) -> None:
    """`GET /healthz` and `HEAD /` answer without a token; `GET /` is not a liveness check,
    and no answer names the server software."""
    async with aiohttp.ClientSession() as http:
        for method, path, status in (
            ("GET", "/healthz", 200),
            ("HEAD", "/", 200),
            ("GET", "/", 401),
            ("GET", "/v1/models", 401),
        ):
            async with http.request(method, f"{gateway.root}{path}") as resp:
                assert resp.status == status, (method, path)
                assert "Server" not in resp.headers, (method, path, resp.headers["Server"])
                assert resp.headers["X-Orca-Request-Id"].startswith("orq_")
    async with aiohttp.ClientSession(headers=gateway.auth) as http:
        async with http.get(f"{gateway.root}/") as resp:
            assert resp.status == 200 and "Server" not in resp.headers


async def test_a_wrong_method_is_a_405_naming_the_allowed_ones(gateway: Gateway) -> None:
    async with aiohttp.ClientSession(headers=gateway.auth) as http:
        async with http.get(f"{gateway.base_url}/chat/completions") as resp:
            assert resp.status == 405
            assert resp.headers["Allow"] == "POST"
            assert "GET is not allowed" in _error(await resp.json())["message"]
        async with http.delete(f"{gateway.base_url}/models") as resp:
            assert resp.status == 405
            assert resp.headers["Allow"] == "GET, HEAD"
    async with aiohttp.ClientSession() as http:  # no token: the gate answers first
        async with http.get(f"{gateway.base_url}/chat/completions") as resp:
            assert resp.status == 401
