"""The official `openai` SDK through the real gateway to the scripted fake provider."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import PROVIDER_KEY, ROUTED_HEADERS, Gateway, openai_client
from tests.fake_provider import Reply, ToolCall

pytestmark = pytest.mark.asyncio


async def test_non_stream_answer_has_body_and_all_headers(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small",
        Reply(
            content="four",
            prompt_tokens=21,
            completion_tokens=3,
            served_model="fake-small-2025-01-01",
        ),
    )
    async with openai_client(gateway) as oa:
        raw = await oa.chat.completions.with_raw_response.create(
            model="fake-small", messages=[{"role": "user", "content": "2+2?"}]
        )
    completion = raw.parse()
    assert completion.choices[0].message.content == "four"
    assert completion.model == "fake-small-2025-01-01"  # as the provider reported it
    assert completion.usage is not None and completion.usage.prompt_tokens == 21
    for name in ROUTED_HEADERS:
        assert raw.headers.get(name), name
    assert raw.headers["x-orca-byok"] == "true"
    assert raw.headers["x-orca-provider"] == "mock"
    assert raw.headers["x-orca-model"] == "fake-small"
    assert raw.headers["x-orca-route"] == "pinned/direct"
    assert float(raw.headers["x-orca-overhead-ms"]) >= 0
    received = gateway.fake.received_for("fake-small")[0]
    assert received.bearer == PROVIDER_KEY


async def test_stream_without_include_usage_has_no_usage_frame(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="one two three four", chunks=4))
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small", messages=[{"role": "user", "content": "count"}], stream=True
        )
        chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)  # no empty-choices frame reaches the SDK
    # usage was still requested upstream, so cost is known
    sent = gateway.fake.received_for("fake-small")[0].body
    assert sent["stream_options"] == {"include_usage": True}


async def test_stream_with_include_usage_ends_with_usage(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small", Reply(content="a b c", chunks=3, prompt_tokens=9, completion_tokens=3)
    )
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small",
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 9 and chunks[-1].usage.completion_tokens == 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "a b c"


@pytest.mark.parametrize("include_usage", [False, True], ids=["not-asked", "asked"])
async def test_usage_on_the_finish_frame_reaches_only_a_client_that_asked(
    gateway: Gateway, include_usage: bool
) -> None:
    # some providers attach usage to the last frame that still has its choice instead of
    # sending a separate usage frame
    gateway.fake.script(
        "fake-small",
        Reply(content="a b", prompt_tokens=9, completion_tokens=2, usage_in_finish=True),
    )
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small", messages=[{"role": "user", "content": "x"}], stream=True, **options
        )
        chunks = [c async for c in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"
    usages = [c.usage for c in chunks if c.usage is not None]
    if include_usage:
        assert [(u.prompt_tokens, u.completion_tokens) for u in usages] == [(9, 2)]
    else:
        assert usages == []
    [record] = await gateway.records(1)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (9, 2)  # known either way


async def test_stream_options_are_not_forwarded_on_a_request_that_does_not_stream(
    gateway: Gateway,
) -> None:
    gateway.fake.script("fake-small", Reply(content="ok"))
    async with openai_client(gateway) as oa:
        answer = await oa.chat.completions.create(
            model="fake-small",
            messages=[{"role": "user", "content": "x"}],
            stream_options={"include_usage": True},
            seed=3,
        )
    assert answer.choices[0].message.content == "ok"
    sent = gateway.fake.received_for("fake-small")[0].body
    assert "stream_options" not in sent and sent["seed"] == 3 and sent.get("stream") is not True


async def test_stream_headers_are_routed_headers(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="hi"))
    async with openai_client(gateway) as oa:
        raw = await oa.chat.completions.with_raw_response.create(
            model="mock/fake-small", messages=[{"role": "user", "content": "x"}], stream=True
        )
        async for _ in raw.parse():
            pass
    for name in ROUTED_HEADERS:
        assert raw.headers.get(name), name
    assert raw.headers["x-orca-route"] == "pinned/direct"


async def test_parallel_tool_calls_non_stream(gateway: Gateway) -> None:
    calls = [ToolCall("get_weather", '{"city": "Paris"}'), ToolCall("get_time", '{"tz": "CET"}')]
    gateway.fake.script("fake-small", Reply(tool_calls=calls))
    tools = [_tool("get_weather"), _tool("get_time")]
    async with openai_client(gateway) as oa:
        completion = await oa.chat.completions.create(
            model="fake-small",
            messages=[{"role": "user", "content": "weather and time"}],
            tools=tools,
            tool_choice="auto",
            parallel_tool_calls=True,
        )
    got = completion.choices[0].message.tool_calls
    assert got is not None
    assert [(c.function.name, json.loads(c.function.arguments)) for c in got] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    sent = gateway.fake.received_for("fake-small")[0].body
    assert sent["tools"] == tools and sent["parallel_tool_calls"] is True


async def test_streamed_tool_call_fragments_reassemble(gateway: Gateway) -> None:
    calls = [
        ToolCall("get_weather", '{"city": "Paris", "unit": "celsius"}'),
        ToolCall("get_time", '{"tz": "Europe/Paris"}'),
    ]
    gateway.fake.script("fake-small", Reply(tool_calls=calls, argument_fragment_chars=5))
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small",
            messages=[{"role": "user", "content": "x"}],
            tools=[_tool("get_weather"), _tool("get_time")],
            stream=True,
        )
        args: dict[int, str] = {}
        names: dict[int, str] = {}
        async for chunk in stream:
            for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                if tc.function and tc.function.name:
                    names[tc.index] = tc.function.name
                if tc.function and tc.function.arguments:
                    args[tc.index] = args.get(tc.index, "") + tc.function.arguments
    assert names == {0: "get_weather", 1: "get_time"}
    assert json.loads(args[0]) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(args[1]) == {"tz": "Europe/Paris"}


async def test_odd_upstream_frames_are_cleaned(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small",
        Reply(
            content="clean feed",
            chunks=2,
            content_filter_preframe=True,
            sse_comments=True,
            unknown_events=True,
        ),
    )
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small", messages=[{"role": "user", "content": "x"}], stream=True
        )
        chunks = [c async for c in stream]
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "clean feed"


async def test_unknown_fields_pass_through_and_routing_keys_do_not(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="ok"))
    async with openai_client(gateway) as oa:
        await oa.chat.completions.create(
            model="fake-small",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"models": ["fake-mid"], "route": "fallback", "vendor_knob": {"a": 1}},
            temperature=0.2,
            seed=7,
        )
    sent = gateway.fake.received_for("fake-small")[0].body
    assert sent["vendor_knob"] == {"a": 1} and sent["temperature"] == 0.2 and sent["seed"] == 7
    assert "models" not in sent and "route" not in sent and "extra_body" not in sent


def _tool(name: str) -> dict[str, object]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": name,
            "parameters": {"type": "object", "properties": {}},
        },
    }


async def test_requests_to_a_provider_share_one_pooled_connection(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Reply(content="ok"))
    async with openai_client(gateway) as oa:
        for stream in (False, True, False):
            answer = await oa.chat.completions.create(
                model="fake-small", messages=[{"role": "user", "content": "hi"}], stream=stream
            )
            if stream:
                async for _ in answer:  # type: ignore[union-attr]
                    pass
    peers = {r.peer for r in gateway.fake.received_for("fake-small")}
    assert len(gateway.fake.received_for("fake-small")) == 3 and len(peers) == 1


async def test_a_chunk_reaches_the_client_before_the_upstream_sends_the_next(
    gateway: Gateway,
) -> None:
    """Issue #5: chunks pass through as they arrive. The fake waits 60 s between
    chunks, so a gateway holding any back could not deliver the first in 10 s."""
    import asyncio

    gateway.fake.script("fake-small", Reply(content="one two", chunks=2, chunk_interval=60.0))
    async with openai_client(gateway) as oa:
        stream = await oa.chat.completions.create(
            model="fake-small", messages=[{"role": "user", "content": "count"}], stream=True
        )

        async def first_content() -> str:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    return chunk.choices[0].delta.content
            return ""

        assert await asyncio.wait_for(first_content(), 10.0) == "one "
        await stream.close()
    # leaving mid-stream reaches the provider: its request ends instead of waiting on
    await gateway.fake.wait_for_disconnects(1)
