"""The official `anthropic` SDK through the real gateway's /v1/messages to the fake provider.

Models of the OpenAI-compatible provider `mock` are reached by translation
(Anthropic in, OpenAI chat upstream, Anthropic back); `claude-fake` is served
by an `anthropic`-kind provider `anth` on the same fake, natively.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, NamedTuple

import aiohttp
import anthropic
import pytest

from tests.e2e.conftest import (
    PROVIDER_KEY,
    ROUTED_HEADERS,
    TOKEN,
    Gateway,
    GatewayFactory,
    write_config,
)
from tests.fake_provider import Fail, Reply, ToolCall

pytestmark = pytest.mark.asyncio

ANTH_KEY = "sk-ant-fake-" + uuid.uuid4().hex
HI = [{"role": "user", "content": "hi"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
ANTH_PROVIDER = """
[providers.anth]
kind = "anthropic"
base_url = "{url}"
models = ["claude-fake"]

[[models]]
id = "claude-fake"
provider = "anth"
upstream_id = "claude-fake-20250101"
input_price = 3.00
output_price = 15.00
cached_input_price = 0.30
context_window = 200000
capabilities = ["tools", "vision", "reasoning"]
"""


@pytest.fixture(autouse=True)
def _no_sdk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def client(gw: Gateway, *, bearer: bool = False, token: str = TOKEN) -> anthropic.AsyncAnthropic:
    if bearer:
        return anthropic.AsyncAnthropic(base_url=gw.root, auth_token=token, max_retries=0)
    return anthropic.AsyncAnthropic(base_url=gw.root, api_key=token, max_retries=0)


async def with_anthropic_provider(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> Gateway:
    """The usual gateway plus `[providers.anth]` (kind anthropic, base_url without /v1);
    the fake takes any key, the tests check which one arrived."""
    gw = await gateway_factory(require_key=False)
    monkeypatch.setenv("ORCA_KEY_ANTH", ANTH_KEY)
    test_secrets.add(ANTH_KEY)
    write_config(gw.config_path, gw.fake.base_url, extra=ANTH_PROVIDER.format(url=gw.fake.url))
    await gw.restart()
    return gw


class MessagesRoute(NamedTuple):
    """Who serves /v1/messages in a test: the gateway, the model asked for, the name
    the fake provider is scripted under, and the provider id."""

    gw: Gateway
    model: str
    upstream: str
    via: str


async def messages_route(
    native: bool,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
) -> MessagesRoute:
    """An Anthropic provider answering natively, or an OpenAI-compatible one translated."""
    if native:
        gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
        return MessagesRoute(gw, "claude-fake", "claude-fake-20250101", "anth")
    return MessagesRoute(await gateway_factory(), "fake-small", "fake-small", "mock")


async def post(
    gw: Gateway, body: Any, *, path: str = "/v1/messages", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession(headers=headers or {"x-api-key": TOKEN}) as http:
        async with http.post(f"{gw.root}{path}", json=body) as resp:
            return resp.status, dict(resp.headers), await resp.read()


# -- translated: an OpenAI-compatible provider behind /v1/messages ---------------------


async def test_non_stream_text_is_translated_with_headers_and_record(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small",
        Reply(
            content="four",
            prompt_tokens=21,
            completion_tokens=3,
            served_model="fake-small-2025-01-01",
        ),
    )
    async with client(gateway) as an:
        raw = await an.messages.with_raw_response.create(
            model="fake-small",
            max_tokens=64,
            system="be brief",
            messages=[{"role": "user", "content": "2+2?"}],
            metadata={"user_id": "u1"},
            extra_body={"top_k": 5},
        )
    message = await raw.parse()
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "four"
    assert message.model == "fake-small-2025-01-01"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (21, 3)
    for name in ROUTED_HEADERS:
        assert raw.headers.get(name), name
    assert raw.headers["x-orca-provider"] == "mock" and raw.headers["x-orca-byok"] == "true"
    assert raw.headers["x-orca-route"] == "pinned/direct"
    sent = gateway.fake.received_for("fake-small")[0]
    assert sent.path == "/v1/chat/completions" and sent.bearer == PROVIDER_KEY
    assert sent.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "2+2?"},
    ]
    assert sent.body["max_tokens"] == 64 and sent.body["user"] == "u1"
    assert "top_k" not in sent.body and "system" not in sent.body
    record = (await gateway.records())[0]
    assert record["id"] == raw.headers["x-orca-request-id"]
    assert record["endpoint"] == "/v1/messages" and record["status"] == 200
    assert record["client"] == "anthropic-python"
    assert (record["prompt_tokens"], record["completion_tokens"]) == (21, 3)
    assert record["cost_usd"] > 0 and record["savings_usd"] > 0


async def test_stream_text_is_translated_with_bearer_token(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small", Reply(content="one two three", chunks=3, prompt_tokens=9, completion_tokens=3)
    )
    async with client(gateway, bearer=True) as an:
        async with an.messages.stream(model="fake-small", max_tokens=64, messages=HI) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
    assert text == "one two three"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 3)
    sent = gateway.fake.received_for("fake-small")[0].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    record = (await gateway.records())[0]
    assert record["endpoint"] == "/v1/messages" and record["stream"] is True
    assert record["completion_tokens"] == 3


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_tool_use_round_trip(gateway: Gateway, stream: bool) -> None:
    call = ToolCall("get_weather", '{"city": "Paris"}', id="call_abc")
    gateway.fake.script(
        "fake-small",
        [
            Reply(tool_calls=[call], argument_fragment_chars=4),
            Reply(content="It is sunny in Paris."),
        ],
    )
    question = {"role": "user", "content": "weather in Paris?"}
    async with client(gateway) as an:
        if stream:
            async with an.messages.stream(
                model="fake-small", max_tokens=64, messages=[question], tools=[WEATHER_TOOL]
            ) as s:
                first = await s.get_final_message()
        else:
            first = await an.messages.create(
                model="fake-small", max_tokens=64, messages=[question], tools=[WEATHER_TOOL]
            )
        assert first.stop_reason == "tool_use"
        (use,) = [b for b in first.content if b.type == "tool_use"]
        assert (use.id, use.name, use.input) == ("call_abc", "get_weather", {"city": "Paris"})
        answer = await an.messages.create(
            model="fake-small",
            max_tokens=64,
            tools=[WEATHER_TOOL],
            messages=[
                question,
                {"role": "assistant", "content": [use.model_dump()]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 24 C"}
                    ],
                },
            ],
        )
    assert answer.content[0].text == "It is sunny in Paris."
    sent = gateway.fake.received_for("fake-small")[1].body
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assistant, tool = sent["messages"][1], sent["messages"][2]
    assert assistant["tool_calls"][0]["id"] == "call_abc"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert tool == {"role": "tool", "tool_call_id": "call_abc", "content": "sunny, 24 C"}


# -- native: an anthropic-kind provider -----------------------------------------------


async def test_native_non_stream_passes_body_and_headers_through(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> None:
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script(
        "claude-fake-20250101",
        Reply(content="native", prompt_tokens=100, cached_tokens=50, completion_tokens=20),
    )
    async with client(gw) as an:
        raw = await an.beta.messages.with_raw_response.create(
            model="claude-fake",
            max_tokens=64,
            messages=HI,
            betas=["fake-beta-2025-01-01"],
            extra_body={"top_k": 3, "vendor_knob": {"a": 1}},
        )
    message = await raw.parse()
    assert message.content[0].text == "native"
    assert message.model == "claude-fake-20250101"
    assert raw.headers["x-orca-provider"] == "anth"
    assert raw.headers["x-orca-model"] == "claude-fake-20250101"
    sent = gw.fake.received_for("claude-fake-20250101")[0]
    assert sent.path == "/v1/messages"
    assert sent.api_key == ANTH_KEY and sent.authorization is None
    assert sent.anthropic_version == raw.http_request.headers["anthropic-version"]  # the SDK's
    assert sent.headers["anthropic-beta"] == "fake-beta-2025-01-01"
    assert sent.body["vendor_knob"] == {"a": 1} and sent.body["top_k"] == 3
    assert sent.body["messages"] == HI
    record = (await gw.records())[0]
    assert record["endpoint"] == "/v1/messages" and record["provider"] == "anth"
    # Anthropic's input_tokens exclude cache reads; the record's prompt includes them
    assert (record["prompt_tokens"], record["cached_tokens"]) == (150, 50)
    assert record["completion_tokens"] == 20 and record["cost_usd"] > 0


async def test_native_stream_events_pass_through(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> None:
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script(
        "claude-fake-20250101",
        Reply(content="a b c", chunks=3, prompt_tokens=7, completion_tokens=3, unknown_events=True),
    )
    async with client(gw, bearer=True) as an:
        async with an.messages.stream(model="claude-fake", max_tokens=64, messages=HI) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
    assert text == "a b c" and final.usage.output_tokens == 3
    status, headers, body = await post(
        gw, {"model": "claude-fake", "max_tokens": 8, "messages": HI, "stream": True}
    )
    assert status == 200 and headers["X-Orca-Provider"] == "anth"
    assert body.startswith(b"event: message_start\n") and b"event: fake_heartbeat" in body
    assert body.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert gw.fake.requests[-1].anthropic_version == "2023-06-01"  # the client sent none
    record = (await gw.records(2))[1]
    assert (record["prompt_tokens"], record["completion_tokens"]) == (7, 3)


async def test_native_mid_stream_drop_ends_with_error_event(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> None:
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script("claude-fake-20250101", Reply(content="one two three", drop_after_chunks=1))
    status, _, body = await post(
        gw, {"model": "claude-fake", "max_tokens": 8, "messages": HI, "stream": True}
    )
    assert status == 200
    assert b"content_block_delta" in body and b"message_stop" not in body
    assert body.endswith(b"\n\n") and b"event: error\ndata: " in body


# -- the gate, validation, fallback and faults ----------------------------------------


async def test_query_string_is_accepted(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="ok"))
    status, headers, body = await post(
        gateway,
        {"model": "fake-small", "max_tokens": 8, "messages": HI},
        path="/v1/messages?beta=true",
    )
    assert status == 200 and json.loads(body)["content"][0]["text"] == "ok"
    assert headers["X-Orca-Request-Id"]


async def test_invalid_body_is_a_400_in_anthropic_shape(gateway: Gateway) -> None:
    status, headers, body = await post(
        gateway, {"model": "fake-small", "max_tokens": 0, "messages": HI}
    )
    assert status == 400 and headers["X-Orca-Request-Id"]
    error = json.loads(body)
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in error["error"]["message"]
    async with client(gateway) as an:
        with pytest.raises(anthropic.BadRequestError, match="messages"):
            await an.messages.create(model="fake-small", max_tokens=8, messages=[])
        with pytest.raises(anthropic.NotFoundError):
            await an.messages.create(model="no-such-model", max_tokens=8, messages=HI)
    record = (await gateway.records(3))[0]
    assert record["endpoint"] == "/v1/messages" and record["status"] == 404


async def test_wrong_token_is_a_401_in_anthropic_shape(gateway: Gateway) -> None:
    async with client(gateway, token="sk-orca-wrong") as an:
        with pytest.raises(anthropic.AuthenticationError):
            await an.messages.create(model="fake-small", max_tokens=8, messages=HI)
    status, headers, body = await post(
        gateway,
        {"model": "fake-small", "max_tokens": 8, "messages": HI},
        headers={"Authorization": "Bearer sk-orca-wrong"},
    )
    assert status == 401
    assert json.loads(body)["error"]["type"] == "authentication_error"
    assert not gateway.fake.requests


async def test_fallback_on_500_to_the_next_model(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Fail(500, message="boom"))
    gateway.fake.script("fake-mid", Reply(content="from mid"))
    async with client(gateway) as an:
        raw = await an.messages.with_raw_response.create(
            model="fake-small", max_tokens=8, messages=HI, extra_body={"models": ["fake-mid"]}
        )
    assert (await raw.parse()).content[0].text == "from mid"
    assert raw.headers["x-orca-route"] == "request/fallback"
    assert raw.headers["x-orca-model"] == "fake-mid"
    assert "models" not in gateway.fake.received_for("fake-mid")[0].body
    record = (await gateway.records())[0]
    assert [(a["model"], a["status"]) for a in record["attempts"]] == [
        ("fake-small", 500),
        ("fake-mid", 200),
    ]


async def test_all_candidates_failing_is_an_anthropic_5xx(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Fail(503, message="down"))
    status, headers, body = await post(
        gateway, {"model": "fake-small", "max_tokens": 8, "messages": HI}
    )
    assert status == 502 and headers["X-Orca-Request-Id"]
    error = json.loads(body)
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert "mock/fake-small" in error["error"]["message"]


async def test_translated_mid_stream_drop_ends_with_error_event(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="one two three four", drop_after_chunks=2))
    status, _, body = await post(
        gateway, {"model": "fake-small", "max_tokens": 8, "messages": HI, "stream": True}
    )
    assert status == 200
    assert b"text_delta" in body and b"message_stop" not in body
    assert body.endswith(b"\n\n") and b"event: error\ndata: " in body
    async with client(gateway) as an:
        with pytest.raises(anthropic.APIError):
            async with an.messages.stream(model="fake-small", max_tokens=8, messages=HI) as stream:
                async for _ in stream:
                    pass
    record = (await gateway.records(2))[0]
    assert record["status"] == 502 and "dropped" in record["error"]


@pytest.mark.parametrize("native", [False, True], ids=["translated", "native"])
async def test_client_disconnect_cancels_the_upstream(
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
    native: bool,
) -> None:
    gw, model, upstream, _ = await messages_route(
        native, gateway_factory, monkeypatch, test_secrets
    )
    gw.fake.script(upstream, Reply(content=" ".join(["w"] * 200), chunks=200, chunk_interval=0.02))
    async with aiohttp.ClientSession(headers={"x-api-key": TOKEN}) as http:
        resp = await http.post(
            f"{gw.root}/v1/messages",
            json={"model": model, "max_tokens": 8, "messages": HI, "stream": True},
        )
        assert (await resp.content.readline()) == b"event: message_start\n"
        resp.close()  # the client goes away mid-stream
    await gw.fake.wait_for_disconnects(1)
    [record] = await gw.records(1)
    assert (record["status"], record["endpoint"]) == (499, "/v1/messages")


async def test_provider_refusal_keeps_the_anthropic_shape(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> None:
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script("claude-fake-20250101", Fail(400, message="prompt is too long"))
    gw.fake.script("fake-small", Fail(400, message="context_length_exceeded"))
    for model, words in (
        ("claude-fake", "prompt is too long"),
        ("fake-small", "context_length_exceeded"),
    ):
        status, headers, body = await post(gw, {"model": model, "max_tokens": 8, "messages": HI})
        error = json.loads(body)
        assert status == 400 and headers["X-Orca-Request-Id"]
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        assert words in error["error"]["message"]


async def test_count_tokens_answers_an_offline_estimate(gateway: Gateway) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=gateway.root, api_key=TOKEN, max_retries=0
    ) as client:
        short = await client.messages.count_tokens(
            model="fake-small", messages=[{"role": "user", "content": "hi"}]
        )
        long = await client.messages.count_tokens(
            model="fake-small", messages=[{"role": "user", "content": "word " * 2000}]
        )
    assert 0 < short.input_tokens < 50
    assert 1000 < long.input_tokens < 4000
    assert gateway.fake.requests == []  # no provider was asked
