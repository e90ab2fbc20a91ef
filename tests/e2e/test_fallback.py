"""Fallback through the real gateway: what clients get and what the fake provider saw.

Each failure the contract names (5xx, 429, timeout, connection dropped, provider
401) happens before the first byte, so the next candidate answers; after the
first byte a failure ends the stream with an error frame. Cool-downs decide
whether a failed model is called again.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from orca_desktop.events import KeyStatusChanged
from tests.e2e.conftest import MODELS, PROVIDER_KEY, Gateway, GatewayFactory, openai_client
from tests.fake_provider import Drop, Fail, Reply, Step

pytestmark = pytest.mark.asyncio

FIRST_BYTE_TIMEOUT = "first_byte_timeout_s = 0.3"  # the fake delays "timeout" by 2 s
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
ROUTING_KEYS = ("models", "route", "extra_body")

# name → (what the first candidate does, the attempt's status, words in its error)
FAILURES: dict[str, tuple[Step, int, str]] = {
    "500": (Fail(500, message="boom"), 500, "HTTP 500"),
    "429": (Fail(429, retry_after=7), 429, "HTTP 429"),
    "timeout": (Reply(first_byte_delay=2.0), 0, "mock"),
    "drop": (Drop(), 0, "mock"),
}
CASES = [
    pytest.param(name, stream, id=f"{name}-{'stream' if stream else 'json'}")
    for name in FAILURES
    for stream in (False, True)
]


async def ask(
    gw: Gateway, model: str, *, stream: bool = False, **extra: Any
) -> tuple[str, dict[str, str]]:
    """(answer text, response headers) through the openai SDK."""
    async with openai_client(gw) as oa:
        create = oa.chat.completions.with_raw_response.create
        if stream:
            raw_stream = await create(model=model, messages=MESSAGES, stream=True, **extra)
            chunks = [c async for c in raw_stream.parse()]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            return text, dict(raw_stream.headers)
        raw = await create(model=model, messages=MESSAGES, **extra)
        return raw.parse().choices[0].message.content or "", dict(raw.headers)


async def post(gw: Gateway, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession(headers=gw.auth) as http:
        async with http.post(f"{gw.base_url}/chat/completions", json=body) as resp:
            return resp.status, dict(resp.headers), await resp.read()


def attempts(record: dict[str, Any]) -> list[tuple[str, int]]:
    return [(a["model"], a["status"]) for a in record["attempts"]]


# -- the next candidate answers ----------------------------------------------------


@pytest.mark.parametrize(("failure", "stream"), CASES)
async def test_request_fallback_answers_from_the_next_model(
    gateway_factory: GatewayFactory, failure: str, stream: bool
) -> None:
    step, status, words = FAILURES[failure]
    gw = await gateway_factory(server_extra=FIRST_BYTE_TIMEOUT if failure == "timeout" else "")
    gw.fake.script("fake-small", step)
    gw.fake.script("fake-mid", Reply(content="from mid"))

    text, headers = await ask(
        gw, "fake-small", stream=stream, extra_body={"models": ["fake-mid"], "route": "fallback"}
    )

    assert text == "from mid"
    assert headers["x-orca-route"] == "request/fallback"
    assert headers["x-orca-route-reason"] == "fallback list: fake-small -> fake-mid"
    assert headers["x-orca-model"] == "fake-mid"
    assert [r.model for r in gw.fake.requests] == ["fake-small", "fake-mid"]
    [record] = await gw.records(1)
    assert record["id"] == headers["x-orca-request-id"]
    assert record["status"] == 200 and record["error"] is None
    assert record["model"] == "fake-mid" and record["provider"] == "mock"
    assert attempts(record) == [("fake-small", status), ("fake-mid", 200)]
    failed = record["attempts"][0]
    assert words in failed["error"] and failed["provider"] == "mock"
    assert record["attempts"][1]["error"] is None


@pytest.mark.parametrize(("failure", "stream"), CASES)
async def test_auto_router_answers_from_the_next_cheapest(
    gateway_factory: GatewayFactory, failure: str, stream: bool
) -> None:
    step, status, _ = FAILURES[failure]
    gw = await gateway_factory(server_extra=FIRST_BYTE_TIMEOUT if failure == "timeout" else "")
    gw.fake.script("fake-small", step)  # the cheapest
    gw.fake.script("fake-mid", Reply(content="from mid"))  # the next cheapest

    text, headers = await ask(gw, "auto", stream=stream)

    assert text == "from mid"
    assert headers["x-orca-route"] == "auto/cheapest"
    [record] = await gw.records(1)
    assert (record["router"], record["strategy"]) == ("auto", "cheapest")
    assert attempts(record) == [("fake-small", status), ("fake-mid", 200)]
    assert "fake-large" not in [r.model for r in gw.fake.requests]


async def test_provider_401_falls_back_and_reports_the_key(gateway: Gateway) -> None:
    events: list[Any] = []
    gateway.core.hub.subscribe(events.append)
    gateway.fake.script("fake-small", Fail(401, message="invalid api key"))
    gateway.fake.script("fake-mid", Reply(content="from mid"))

    text, _ = await ask(gateway, "fake-small", extra_body={"models": ["fake-mid"]})

    assert text == "from mid"
    rejected = [e for e in events if isinstance(e, KeyStatusChanged)]
    assert [(e.provider, e.status) for e in rejected] == [("mock", "rejected")]
    [record] = await gateway.records(1)
    assert attempts(record) == [("fake-small", 401), ("fake-mid", 200)]
    assert "keys test mock" in record["attempts"][0]["error"]


# -- every candidate fails -----------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_all_candidates_failing_is_a_5xx_listing_every_attempt(
    gateway_factory: GatewayFactory, stream: bool
) -> None:
    gw = await gateway_factory()
    gw.fake.script("fake-small", Fail(500, message="small is down"))
    gw.fake.script("fake-mid", Fail(429, retry_after=3))
    gw.fake.script("fake-large", Drop())

    status, headers, raw = await post(
        gw,
        {
            "model": "fake-small",
            "messages": MESSAGES,
            "stream": stream,
            "models": ["fake-mid", "fake-large"],
        },
    )

    assert 500 <= status < 600
    error = json.loads(raw)["error"]
    assert {"message", "type", "param", "code"} <= set(error)
    message = error["message"]
    for part in (
        "mock/fake-small",
        "HTTP 500",
        "small is down",
        "mock/fake-mid",
        "HTTP 429",
        "mock/fake-large",
    ):
        assert part in message, part
    [record] = await gw.records(1)
    assert record["id"] == headers["X-Orca-Request-Id"]
    assert record["status"] == status and record["error"] == message
    assert attempts(record) == [("fake-small", 500), ("fake-mid", 429), ("fake-large", 0)]
    assert all(a["error"] for a in record["attempts"])


async def test_all_failing_through_the_sdk_raises(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Fail(503))
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(gateway, "fake-small")
    assert caught.value.status_code >= 500 and "HTTP 503" in caught.value.message


# -- cool-downs --------------------------------------------------------------------


async def test_rate_limited_model_is_skipped_while_another_remains(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", [Fail(429, retry_after=30), Reply(content="small again")])
    gateway.fake.script("fake-mid", Reply(content="from mid"))
    chain: dict[str, Any] = {"extra_body": {"models": ["fake-mid"], "route": "fallback"}}

    assert (await ask(gateway, "fake-small", **chain))[0] == "from mid"
    assert (await ask(gateway, "fake-small", stream=True, **chain))[0] == "from mid"
    assert (await ask(gateway, "auto"))[0] == "from mid"
    assert len(gateway.fake.received_for("fake-small")) == 1  # no second call while cooling
    assert len(gateway.fake.received_for("fake-mid")) == 3
    second, first = (await gateway.records(3))[1:]
    assert attempts(first) == [("fake-small", 429), ("fake-mid", 200)]
    assert attempts(second) == [("fake-mid", 200)]

    # a pinned model is always tried, in either form
    assert (await ask(gateway, "fake-small"))[0] == "small again"
    assert (await ask(gateway, "mock/fake-small"))[0] == "small again"
    assert len(gateway.fake.received_for("fake-small")) == 3


async def test_cool_down_holds_for_the_upstream_id_actually_called(
    gateway_factory: GatewayFactory,
) -> None:
    models = MODELS.replace('id = "fake-small"\n', 'id = "fake-small"\nupstream_id = "small-v2"\n')
    gw = await gateway_factory(models=models)
    gw.fake.script("small-v2", Fail(500))
    gw.fake.script("fake-mid", Reply(content="from mid"))

    for _ in range(2):
        assert (await ask(gw, "fake-small", extra_body={"models": ["fake-mid"]}))[0] == "from mid"
    assert len(gw.fake.received_for("small-v2")) == 1


# -- after the first byte ------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "content"), [(3, "one two three "), (0, "")], ids=["mid-way", "after-opening"]
)
async def test_stream_dropped_mid_way_ends_with_an_error_frame(
    gateway: Gateway, after: int, content: str
) -> None:
    # the opening (role) frame is passed on at once, never held: from then on it is too
    # late to fall back
    gateway.fake.script(
        "fake-small", Reply(content="one two three four five six", drop_after_chunks=after)
    )
    gateway.fake.script("fake-mid", Reply(content="never"))

    status, headers, raw = await post(
        gateway,
        {"model": "fake-small", "messages": MESSAGES, "stream": True, "models": ["fake-mid"]},
    )

    assert status == 200  # the head went out with the first chunk
    frames = [f for f in raw.decode().split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    assert frames[-2].startswith("data: ")
    error = json.loads(frames[-2][6:])["error"]
    assert "mock" in error["message"] and error["type"]
    received = "".join(
        (json.loads(f[6:])["choices"][0]["delta"].get("content") or "") for f in frames[:-2]
    )
    assert received == content
    assert json.loads(frames[0][6:])["choices"][0]["delta"]["role"] == "assistant"
    assert gateway.fake.received_for("fake-mid") == []  # too late to fall back
    [record] = await gateway.records(1)
    assert record["id"] == headers["X-Orca-Request-Id"]
    assert record["status"] == 502 and "dropped" in record["error"]


async def test_stream_dropped_mid_way_is_an_error_in_the_sdk(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small", Reply(content="one two three four five six", drop_after_chunks=3)
    )
    got: list[str] = []
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small", messages=MESSAGES, stream=True
        )
        with pytest.raises(openai.APIError, match="mock"):
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "one two three "


# -- Orca's routing keys -------------------------------------------------------------


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "extra_body"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_routing_keys_never_reach_the_provider(
    gateway: Gateway, nested: bool, stream: bool
) -> None:
    gateway.fake.script("fake-small", Fail(500))
    gateway.fake.script("fake-mid", Reply(content="from mid"))
    keys = {"models": ["fake-mid"], "route": "fallback"}
    body = {
        "model": "fake-small",
        "messages": MESSAGES,
        "stream": stream,
        **({"extra_body": {**keys, "seed": 7}} if nested else keys),
    }

    status, headers, _ = await post(gateway, body)

    assert status == 200 and headers["X-Orca-Route"] == "request/fallback"
    assert [r.model for r in gateway.fake.requests] == ["fake-small", "fake-mid"]
    for received in gateway.fake.requests:
        assert not set(ROUTING_KEYS) & set(received.body), received.body
        if nested:
            assert received.body["seed"] == 7  # other extra_body keys are merged, as SDKs do


async def test_top_level_and_nested_models_make_one_chain(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Fail(500))
    gateway.fake.script("fake-mid", Fail(502))
    gateway.fake.script("fake-large", Reply(content="from large"))
    body = {
        "model": "fake-small",
        "messages": MESSAGES,
        "models": ["fake-mid"],
        "extra_body": {"models": ["fake-large"], "route": "fallback"},
    }

    status, _, raw = await post(gateway, body)

    assert status == 200 and json.loads(raw)["choices"][0]["message"]["content"] == "from large"
    assert [r.model for r in gateway.fake.requests] == ["fake-small", "fake-mid", "fake-large"]
    assert all(not set(ROUTING_KEYS) & set(r.body) for r in gateway.fake.requests)


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "extra_body"])
async def test_route_other_than_fallback_is_a_400_naming_route(
    gateway: Gateway, nested: bool
) -> None:
    keys = {"models": ["fake-mid"], "route": "cheapest"}
    body = {
        "model": "fake-small",
        "messages": MESSAGES,
        **({"extra_body": keys} if nested else keys),
    }

    status, _, raw = await post(gateway, body)

    assert status == 400
    error = json.loads(raw)["error"]
    assert "route" in error["message"] and "fallback" in error["message"]
    assert "route" in (error["param"] or "")
    assert gateway.fake.requests == []


async def test_a_stream_that_opens_with_an_error_event_falls_back(gateway: Gateway) -> None:
    error_event = 'data: {"error": {"message": "model overloaded", "type": "server_error"}}\n\n'
    gateway.fake.script(
        "fake-small",
        Fail(200, body=error_event, headers={"Content-Type": "text/event-stream"}),
    )
    gateway.fake.script("fake-mid", Reply(content="the next one answered"))
    text, headers = await ask(
        gateway, "fake-small", stream=True, extra_body={"models": ["fake-mid"]}
    )
    assert text == "the next one answered"
    [record] = await gateway.records(1)
    assert [a["status"] for a in record["attempts"]] == [502, 200]
    assert "model overloaded" in record["attempts"][0]["error"]


async def test_a_provider_echoing_the_key_never_gets_it_to_the_client_or_the_record(
    gateway: Gateway,
) -> None:
    echo = f"Incorrect API key provided: {PROVIDER_KEY}. Check your key."
    gateway.fake.script("fake-small", Fail(401, message=echo))
    gateway.fake.script("fake-mid", Fail(400, message=echo))  # a refusal, passed on as is
    status, _, raw = await post(
        gateway, {"model": "fake-small", "messages": MESSAGES, "models": ["fake-mid"]}
    )
    assert status == 400
    assert PROVIDER_KEY.encode() not in raw and b"Incorrect API key provided: ****" in raw
    [record] = await gateway.records(1)
    assert PROVIDER_KEY not in json.dumps(record)


async def test_a_stream_stalling_mid_way_ends_with_an_error_frame(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory(server_extra="idle_timeout_s = 0.3")
    gw.fake.script("fake-small", Reply(content="one two three", chunk_interval=2.0))

    status, _, raw = await post(gw, {"model": "fake-small", "messages": MESSAGES, "stream": True})

    assert status == 200
    frames = [f for f in raw.decode().split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    assert "stalled" in json.loads(frames[-2][6:])["error"]["message"]
    [record] = await gw.records(1)
    assert record["status"] == 502 and "stalled for 0.3 s" in record["error"]


RULES_ROUTER = """
[routers.pick]
strategy = "rules"
rules = [{ when = "has_tools", use = "fake-mid" }]
default = "fake-small"
"""


async def test_the_route_reason_header_is_readable_ascii(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(extra=RULES_ROUTER)
    gw.fake.script("fake-mid", Reply(content="ok"))
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}

    status, headers, _ = await post(
        gw, {"model": "orcarouter/pick", "messages": MESSAGES, "tools": [tool]}
    )

    assert status == 200
    reason = headers["X-Orca-Route-Reason"]
    assert reason.startswith("router pick: rule has_tools -> fake-mid;"), reason
    assert reason.isascii() and reason.isprintable() and "?" not in reason
    [record] = await gw.records(1)
    assert record["reason"].replace("\u2192", "->") == reason  # the record keeps the arrow
