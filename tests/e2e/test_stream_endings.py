"""How a stream ends once its first byte went out, on both endpoints, and what is recorded.

PRODUCT.md: after the first byte an upstream failure ends the stream with an
error frame (then `data: [DONE]`; Anthropic's `event: error` on /v1/messages),
never a clean-looking truncation. A provider that ends its response before the
answer is complete, or that sends an error of its own mid-stream, is such a
failure: the record says 502 with the reason, the attempt says 502, the
totals count an error and the provider/model pair cools down like after a 5xx.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.conftest import PROVIDER_KEY, TOKEN, Gateway, GatewayFactory, openai_client
from tests.e2e.test_messages_anthropic_sdk import (
    HI,
    client,
    messages_route,
    with_anthropic_provider,
)
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
TEXT = "one two three four"
OPENAI_ERROR = b'data: {"error": {"message": "upstream overloaded mid-stream"}}\n\n'
ANTHROPIC_ERROR = (
    b"event: error\n"
    b'data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
)


async def stream_chat(gw: Gateway, model: str = "fake-small") -> tuple[int, list[str]]:
    """(status, SSE data payloads) of one raw streaming chat request."""
    body = {"model": model, "messages": MESSAGES, "stream": True}
    async with aiohttp.ClientSession(headers=gw.auth) as http:
        async with http.post(f"{gw.base_url}/chat/completions", json=body) as resp:
            raw = await resp.read()
            status = resp.status
    frames = [f for f in raw.decode().split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames), frames
    return status, [f[6:] for f in frames]


async def stream_messages(gw: Gateway, model: str) -> tuple[int, list[tuple[str, Any]]]:
    """(status, [(event type, parsed data)]) of one raw streaming /v1/messages request."""
    body = {"model": model, "max_tokens": 16, "messages": HI, "stream": True}
    async with aiohttp.ClientSession(headers={"x-api-key": TOKEN}) as http:
        async with http.post(f"{gw.root}/v1/messages", json=body) as resp:
            raw = await resp.read()
            status = resp.status
    events: list[tuple[str, Any]] = []
    for frame in raw.decode().split("\n\n"):
        if frame.strip():
            lines = dict(line.split(": ", 1) for line in frame.split("\n"))
            events.append((lines["event"], json.loads(lines["data"])))
    return status, events


def content_of(payloads: list[str]) -> str:
    text = ""
    for payload in payloads:
        frame = json.loads(payload)
        if frame.get("choices"):
            text += frame["choices"][0]["delta"].get("content") or ""
    return text


async def assert_recorded_as_a_fault(gw: Gateway, *words: str, model: str = "fake-small") -> None:
    """The newest record, its attempt and the totals say 502, with `words` in the error."""
    record = (await gw.records(1))[0]
    assert record["status"] == 502, record
    for word in words:
        assert word in (record["error"] or ""), (word, record["error"])
    [attempt] = record["attempts"]
    assert (attempt["model"], attempt["status"]) == (model, 502)
    assert attempt["error"] == record["error"]
    stats = await gw.stats()
    assert stats["today"]["errors"] >= 1


async def assert_cooling(gw: Gateway, cooled: str, via: str = "fake-mid") -> None:
    """A fallback chain starting at `cooled` skips it while `via` can answer."""
    gw.fake.script(via, Reply(content="from mid"))
    calls = len(gw.fake.received_for(cooled))
    async with openai_client(gw) as oa:
        answer = await oa.chat.completions.create(
            model=cooled, messages=MESSAGES, extra_body={"models": [via]}
        )
    assert answer.choices[0].message.content == "from mid"
    assert len(gw.fake.received_for(cooled)) == calls  # not asked again while cooling


# -- a chat stream the provider ends early ---------------------------------------------------


@pytest.mark.parametrize(
    "end_with", [b"", b'data: {"id":"chatcmpl-1","choi'], ids=["between-frames", "mid-frame"]
)
async def test_a_chat_stream_the_provider_ends_early_ends_with_an_error_frame(
    gateway: Gateway, end_with: bytes
) -> None:
    gateway.fake.script("fake-small", Reply(content=TEXT, end_after_chunks=2, end_with=end_with))

    status, payloads = await stream_chat(gateway)

    assert status == 200
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])["error"]
    assert "mock" in error["message"] and "ended the stream" in error["message"]
    assert set(error) == {"message", "type", "param", "code"}
    assert content_of(payloads[:-2]) == "one two "
    await assert_recorded_as_a_fault(gateway, "mock", "ended the stream")
    await assert_cooling(gateway, "fake-small")


async def test_a_chat_stream_ended_early_is_an_error_in_the_sdk(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content=TEXT, end_after_chunks=3))
    got: list[str] = []
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small", messages=MESSAGES, stream=True
        )
        with pytest.raises(openai.APIError, match="ended the stream"):
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "one two three "


async def test_a_chat_stream_with_a_finish_reason_but_no_done_is_complete(
    gateway: Gateway,
) -> None:
    gateway.fake.script("fake-small", Reply(content=TEXT, send_done=False))

    status, payloads = await stream_chat(gateway)

    assert status == 200 and payloads[-1] == "[DONE]"
    assert not any("error" in json.loads(p) for p in payloads[:-1])
    assert content_of(payloads[:-1]) == TEXT
    [record] = await gateway.records(1)
    assert (record["status"], record["error"]) == (200, None)
    assert [a["status"] for a in record["attempts"]] == [200]


async def test_a_chat_stream_ending_right_after_its_opening_is_a_failure(
    gateway: Gateway,
) -> None:
    # the opening (role) frame is the first byte, so it is too late to fall back; an
    # empty answer that looks complete would hide the failure
    gateway.fake.script("fake-small", Reply(content=TEXT, end_after_chunks=0))

    status, payloads = await stream_chat(gateway)

    assert status == 200 and payloads[-1] == "[DONE]"
    assert "ended the stream" in json.loads(payloads[-2])["error"]["message"]
    await assert_recorded_as_a_fault(gateway, "ended the stream")


# -- a provider's own error mid-stream ----------------------------------------------------------


@pytest.mark.parametrize("then_done", [False, True], ids=["then-end", "then-done"])
async def test_a_chat_providers_mid_stream_error_is_recorded_as_a_failure(
    gateway: Gateway, then_done: bool
) -> None:
    end_with = OPENAI_ERROR + (b"data: [DONE]\n\n" if then_done else b"")
    gateway.fake.script("fake-small", Reply(content=TEXT, end_after_chunks=2, end_with=end_with))

    status, payloads = await stream_chat(gateway)

    assert status == 200 and payloads[-1] == "[DONE]"
    assert payloads.count("[DONE]") == 1
    errors = [json.loads(p)["error"] for p in payloads[:-1] if "error" in json.loads(p)]
    # the provider's own error reaches the client once, in OpenAI's shape
    assert errors == [
        {
            "message": "upstream overloaded mid-stream",
            "type": "upstream_error",
            "param": None,
            "code": None,
        }
    ]
    await assert_recorded_as_a_fault(gateway, "mock", "upstream overloaded mid-stream")
    await assert_cooling(gateway, "fake-small")


async def test_a_mid_stream_error_keeps_the_providers_type_and_code(gateway: Gateway) -> None:
    error = b'data: {"error": {"message": "quota", "type": "server_error", "code": "busy"}}\n\n'
    gateway.fake.script("fake-small", Reply(content=TEXT, end_after_chunks=1, end_with=error))

    _, payloads = await stream_chat(gateway)

    assert json.loads(payloads[-2]) == {
        "error": {"message": "quota", "type": "server_error", "param": None, "code": "busy"}
    }
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small", messages=MESSAGES, stream=True
        )
        with pytest.raises(openai.APIError, match="quota"):
            async for _ in stream:
                pass


async def test_a_mid_stream_error_echoing_the_key_reaches_nobody_with_it(
    gateway: Gateway,
) -> None:
    """Some providers quote the key they were sent ("Incorrect API key provided: …"):
    neither the client's error frame nor the record carries it."""
    error = (
        b'data: {"error": {"message": "Incorrect API key provided: '
        + PROVIDER_KEY.encode()
        + b'", "type": "invalid_request_error"}}\n\n'
    )
    gateway.fake.script("fake-small", Reply(content=TEXT, end_after_chunks=1, end_with=error))

    _, payloads = await stream_chat(gateway)

    assert PROVIDER_KEY not in "".join(payloads)
    assert json.loads(payloads[-2])["error"]["message"] == "Incorrect API key provided: ****"
    (record,) = await gateway.records()
    assert PROVIDER_KEY not in json.dumps(record) and "****" in record["error"]


async def test_an_opening_error_echoing_the_key_fails_over_without_it(gateway: Gateway) -> None:
    error = (
        b'data: {"error": {"message": "Incorrect API key provided: '
        + PROVIDER_KEY.encode()
        + b'", "type": "invalid_request_error"}}\n\n'
    )
    gateway.fake.script("fake-small", Reply(content=TEXT, end_after_chunks=0, end_with=error))

    body = {"model": "fake-small", "messages": MESSAGES, "stream": True}
    async with aiohttp.ClientSession(headers=gateway.auth) as http:
        async with http.post(f"{gateway.base_url}/chat/completions", json=body) as resp:
            status, answer = resp.status, await resp.text()

    assert status == 502 and "****" in answer and PROVIDER_KEY not in answer
    (record,) = await gateway.records()
    assert PROVIDER_KEY not in json.dumps(record)
    assert "****" in record["attempts"][0]["error"]


async def test_a_translated_mid_stream_error_is_recorded_as_a_failure(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small", Reply(content=TEXT, end_after_chunks=2, end_with=OPENAI_ERROR)
    )

    status, events = await stream_messages(gateway, "fake-small")

    assert status == 200
    assert events[-1] == (
        "error",
        {
            "type": "error",
            "error": {"type": "api_error", "message": "upstream overloaded mid-stream"},
        },
    )
    assert "message_stop" not in [kind for kind, _ in events]
    await assert_recorded_as_a_fault(gateway, "upstream overloaded mid-stream")


# -- /v1/messages served natively by an Anthropic provider -----------------------------------------


async def test_a_native_mid_stream_error_event_is_recorded_as_a_failure(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> None:
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script(
        "claude-fake-20250101",
        Reply(content=TEXT, end_after_chunks=2, end_with=ANTHROPIC_ERROR),
    )

    status, events = await stream_messages(gw, "claude-fake")

    assert status == 200
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert [kind for kind, _ in events].count("error") == 1
    await assert_recorded_as_a_fault(
        gw, "anth", "overloaded_error", "Overloaded", model="claude-fake"
    )
    async with client(gw) as an:
        with pytest.raises(anthropic.APIError, match="Overloaded"):
            async with an.messages.stream(model="claude-fake", max_tokens=8, messages=HI) as s:
                async for _ in s:
                    pass


@pytest.mark.parametrize("native", [False, True], ids=["translated", "native"])
async def test_a_messages_stream_the_provider_ends_early_is_recorded_as_a_failure(
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
    native: bool,
) -> None:
    gw, model, upstream, via = await messages_route(
        native, gateway_factory, monkeypatch, test_secrets
    )
    gw.fake.script(upstream, Reply(content=TEXT, end_after_chunks=2))

    status, events = await stream_messages(gw, model)

    assert status == 200
    kind, data = events[-1]
    assert kind == "error" and data["type"] == "error"
    assert set(data["error"]) == {"type", "message"}
    assert via in data["error"]["message"] and "ended the stream" in data["error"]["message"]
    assert "message_stop" not in [k for k, _ in events]
    await assert_recorded_as_a_fault(gw, via, "ended the stream", model=model)
