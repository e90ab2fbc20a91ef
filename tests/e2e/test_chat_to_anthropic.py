"""The official `openai` SDK through /v1/chat/completions to an `anthropic` provider.

The provider is asked natively on /v1/messages (never Anthropic's OpenAI-compatible
endpoint): the fake checks what arrived, and the SDK gets chat completions back.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.conftest import Gateway, GatewayFactory, openai_client, write_config
from tests.e2e.test_messages_anthropic_sdk import ANTH_PROVIDER, with_anthropic_provider
from tests.fake_provider import Fail, Reply, ToolCall

pytestmark = pytest.mark.asyncio

UPSTREAM = "claude-fake-20250101"
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest_asyncio.fixture
async def gw(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> Gateway:
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    # claude-fake takes structured output too (the shared catalog entry does not say so)
    anth = ANTH_PROVIDER.replace('"reasoning"]', '"reasoning", "json_schema"]')
    write_config(gw.config_path, gw.fake.base_url, extra=anth.format(url=gw.fake.url))
    await gw.restart()
    return gw


async def ask(gw: Gateway, **request: Any) -> Any:
    """One non-streamed completion through the official SDK."""
    async with openai_client(gw) as oa:
        return await oa.chat.completions.create(**request)


async def chunks(gw: Gateway, **request: Any) -> list[Any]:
    """Every chunk of one streamed completion through the official SDK."""
    async with openai_client(gw) as oa:
        stream = await oa.chat.completions.create(stream=True, **request)
        return [chunk async for chunk in stream]


def only_native(gw: Gateway) -> dict[str, Any]:
    """The one body the fake got, which must have come on /v1/messages."""
    paths = [r.path for r in gw.fake.requests]
    assert paths and all(p == "/v1/messages" for p in paths), paths
    body: dict[str, Any] = gw.fake.requests[-1].body
    return body


async def test_text_goes_to_the_messages_api_with_system_and_comes_back_as_chat(
    gw: Gateway,
) -> None:
    gw.fake.script(UPSTREAM, Reply(content="four", prompt_tokens=20, completion_tokens=2))
    answer = await ask(
        gw,
        model="claude-fake",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "2+2?"},
        ],
        stop=["\n\n"],
        temperature=0.3,
        user="u-1",
    )
    assert answer.choices[0].message.content == "four"
    assert answer.choices[0].finish_reason == "stop"
    body = only_native(gw)
    assert body["model"] == UPSTREAM
    assert body["system"][0]["text"] == "be brief"
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "2+2?"}]}]
    assert body["stop_sequences"] == ["\n\n"]
    assert body["temperature"] == 0.3
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["max_tokens"] >= 1  # the catalog's max output, or the default
    headers = gw.fake.requests[-1].headers
    assert headers["anthropic-version"] and headers["x-api-key"]
    assert "authorization" not in {k.lower() for k in headers}


async def test_a_stream_arrives_as_chat_chunks_with_the_usage_frame(gw: Gateway) -> None:
    gw.fake.script(UPSTREAM, Reply(content="one two three", prompt_tokens=9, completion_tokens=3))
    got = await chunks(
        gw,
        model="claude-fake",
        messages=[{"role": "user", "content": "count"}],
        stream_options={"include_usage": True},
    )
    text, usage, finish = "", None, None
    for chunk in got:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "one two three"
    assert finish == "stop"
    assert usage is not None and usage.prompt_tokens == 9 and usage.completion_tokens == 3
    assert only_native(gw)["stream"] is True
    (rec,) = await gw.records(1)
    assert rec["provider"] == "anth" and rec["status"] == 200 and rec["prompt_tokens"] == 9


async def test_parallel_tool_calls_stream_arguments_that_reassemble_to_json(gw: Gateway) -> None:
    calls = [
        ToolCall("get_weather", json.dumps({"city": "Paris"}), id="call_a"),
        ToolCall("get_weather", json.dumps({"city": "Oslo, Norway"}), id="call_b"),
    ]
    gw.fake.script(UPSTREAM, Reply(tool_calls=calls, argument_fragment_chars=3))
    stream = await chunks(
        gw,
        model="claude-fake",
        messages=[{"role": "user", "content": "weather in Paris and Oslo"}],
        tools=[TOOL],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    got: dict[int, dict[str, str]] = {}
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = got.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            if call.function is not None:
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
    assert [json.loads(got[i]["arguments"]) for i in sorted(got)] == [
        {"city": "Paris"},
        {"city": "Oslo, Norway"},
    ]
    assert all(got[i]["name"] == "get_weather" and got[i]["id"] for i in got)
    body = only_native(gw)
    assert body["tools"][-1]["name"] == "get_weather"
    assert body["tools"][-1]["input_schema"]["properties"]["city"] == {"type": "string"}
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


async def test_a_tool_round_trip_and_an_image_are_sent_as_anthropic_blocks(gw: Gateway) -> None:
    gw.fake.script(UPSTREAM, Reply(content="sunny"))
    await ask(
        gw,
        model="claude-fake",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call.1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call.1", "content": "18C"},
        ],
        tools=[TOOL],
    )
    body = only_native(gw)
    user, assistant, result = body["messages"]
    assert user["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": "iVBORw0K",
    }
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert result["role"] == "user"
    assert result["content"][0]["type"] == "tool_result"
    assert result["content"][0]["tool_use_id"] == "call_1"
    assert result["content"][0]["content"] == "18C"


async def test_reasoning_effort_is_a_thinking_budget_and_json_schema_structured_output(
    gw: Gateway,
) -> None:
    gw.fake.script(UPSTREAM, Reply(content='{"a": 1}'))
    await ask(
        gw,
        model="claude-fake",
        messages=[{"role": "user", "content": "json please"}],
        reasoning_effort="low",
        max_tokens=1000,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}},
        },
    )
    body = only_native(gw)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048  # the budget must be below max_tokens
    assert body["output_format"] == {"type": "json_schema", "schema": {"type": "object"}}
    assert "structured-outputs" in gw.fake.requests[-1].headers["anthropic-beta"]


async def test_cache_reads_and_writes_are_counted_and_priced(gw: Gateway) -> None:
    gw.fake.script(
        UPSTREAM,
        Reply(
            content="ok",
            prompt_tokens=100,
            cached_tokens=1000,
            cache_write_tokens=500,
            completion_tokens=10,
        ),
    )
    answer = await ask(
        gw,
        model="claude-fake",
        messages=[
            {"role": "system", "content": "long stable prefix"},
            {"role": "user", "content": "turn 1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "turn 2"},
        ],
        tools=[TOOL],
    )
    assert answer.usage is not None and answer.usage.prompt_tokens == 1600
    assert answer.usage.prompt_tokens_details is not None
    assert answer.usage.prompt_tokens_details.cached_tokens == 1000
    body = only_native(gw)
    # breakpoints: last system block, last tool, the user turn before the last one
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["messages"][-1]["content"][-1]
    (rec,) = await gw.records(1)
    assert rec["cached_tokens"] == 1000 and rec["cache_write_tokens"] == 500
    # catalog prices (3.00 in, 0.30 cached, 15.00 out per Mtok; writes at the input price)
    expected = (Decimal(100) * 3 + Decimal(1000) * Decimal("0.30") + Decimal(500) * 3
                + Decimal(10) * 15) / 1_000_000  # fmt: skip
    assert Decimal(str(rec["cost_usd"])) == expected


async def test_a_529_overloaded_falls_back_to_the_next_model(gw: Gateway) -> None:
    gw.fake.script(UPSTREAM, Fail(529))
    gw.fake.script("fake-small", Reply(content="from the fallback"))
    answer = await ask(
        gw,
        model="claude-fake",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"models": ["fake-small"]},
    )
    assert answer.choices[0].message.content == "from the fallback"
    (rec,) = await gw.records(1)
    assert [a["provider"] for a in rec["attempts"]] == ["anth", "mock"]
    assert rec["attempts"][0]["status"] == 503
    assert "529" in rec["attempts"][0]["error"]
