"""The fake provider, checked with the official OpenAI and Anthropic SDKs pointed straight at it.

Other tests trust what the fake records and how it answers; these tests are why they may.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
import pytest_asyncio
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam

from tests.fake_provider import DEFAULT_TEXT, Drop, Fail, FakeProvider, Reply, ToolCall

pytestmark = pytest.mark.asyncio

KEY = "sk-test-fake-provider"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
HELLO_CLAUDE: list[MessageParam] = [{"role": "user", "content": "hello"}]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(require_key=KEY) as provider:
        yield provider


@pytest_asyncio.fixture
async def client(fake: FakeProvider) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0) as c:
        yield c


@pytest_asyncio.fixture
async def claude(fake: FakeProvider) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=fake.url, api_key=KEY, max_retries=0) as c:
        yield c


async def raw_stream(fake: FakeProvider, body: dict[str, Any]) -> str:
    """The exact SSE text the fake sends, read with aiohttp (no SDK tidying)."""
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake.base_url}/chat/completions", json=body, headers=headers
        ) as resp:
            return (await resp.read()).decode()


def data_frames(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


# -- OpenAI, non-stream ------------------------------------------------------------------
async def test_reply_arrives_as_chat_completion_with_usage(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script(
        "fake-small",
        Reply(
            content="hi", prompt_tokens=12, completion_tokens=5, cached_tokens=4, reasoning_tokens=2
        ),
    )

    done = await client.chat.completions.create(model="fake-small", messages=HELLO)

    assert done.choices[0].message.content == "hi"
    assert done.choices[0].finish_reason == "stop"
    assert done.model == "fake-small"
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens) == (
        12,
        5,
        17,
    )
    assert done.usage.prompt_tokens_details is not None
    assert done.usage.prompt_tokens_details.cached_tokens == 4
    assert done.usage.completion_tokens_details is not None
    assert done.usage.completion_tokens_details.reasoning_tokens == 2


async def test_request_is_recorded_with_key_and_body(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-small", Reply())

    await client.chat.completions.create(model="fake-small", messages=HELLO, temperature=0.5)

    [seen] = fake.received_for("fake-small")
    assert (seen.method, seen.path, seen.api) == ("POST", "/v1/chat/completions", "openai")
    assert seen.authorization == f"Bearer {KEY}"
    assert seen.bearer == KEY
    assert seen.body["messages"] == HELLO
    assert seen.body["temperature"] == 0.5
    assert (seen.status, seen.completed, seen.disconnected) == (200, True, False)
    assert not seen.stream
    assert fake.requests == [seen]


async def test_served_model_overrides_the_echoed_id(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-small", Reply(served_model="fake-small-2026-01-01"))

    done = await client.chat.completions.create(model="fake-small", messages=HELLO)

    assert done.model == "fake-small-2026-01-01"
    assert done.choices[0].message.content == DEFAULT_TEXT


async def test_wrong_key_is_refused_and_recorded(fake: FakeProvider) -> None:
    fake.script("fake-small", Reply())
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="sk-wrong", max_retries=0
    ) as wrong:
        with pytest.raises(openai.AuthenticationError):
            await wrong.chat.completions.create(model="fake-small", messages=HELLO)

    assert fake.requests[0].bearer == "sk-wrong"
    assert fake.requests[0].status == 401


async def test_unscripted_model_is_404(fake: FakeProvider, client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        await client.chat.completions.create(model="nope", messages=HELLO)

    assert err.value.status_code == 404
    assert "nope" in err.value.message


async def test_models_lists_the_scripted_models(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-small", Reply())
    fake.script("fake-large", Reply())

    models = [m.id async for m in client.models.list()]

    assert models == ["fake-small", "fake-large"]
    assert fake.requests[0].api == "models"


# -- failures and sequences --------------------------------------------------------------
async def test_fail_raises_api_status_error_with_openai_error_body(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-err", Fail(500, message="upstream exploded"))

    with pytest.raises(openai.APIStatusError) as err:
        await client.chat.completions.create(model="fake-err", messages=HELLO)

    assert err.value.status_code == 500
    assert err.value.body == {
        "message": "upstream exploded",
        "type": "server_error",
        "param": None,
        "code": None,
    }


async def test_429_carries_retry_after(fake: FakeProvider, client: openai.AsyncOpenAI) -> None:
    fake.script("fake-429", Fail(429, retry_after=7))

    with pytest.raises(openai.RateLimitError) as err:
        await client.chat.completions.create(model="fake-429", messages=HELLO)

    assert err.value.response.headers["retry-after"] == "7"
    assert fake.received_for("fake-429")[0].status == 429


async def test_a_list_is_a_per_call_sequence_whose_last_step_repeats(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("seq", [Fail(500), Reply(content="second")])

    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="seq", messages=HELLO)
    second = await client.chat.completions.create(model="seq", messages=HELLO)
    third = await client.chat.completions.create(model="seq", messages=HELLO)

    assert second.choices[0].message.content == "second"
    assert third.choices[0].message.content == "second"
    assert [r.status for r in fake.received_for("seq")] == [500, 200, 200]


async def test_drop_is_a_connection_error_not_a_disconnect(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-gone", Drop())

    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="fake-gone", messages=HELLO)

    assert fake.disconnects == 0


# -- OpenAI, stream ----------------------------------------------------------------------
async def test_stream_sends_content_chunks_and_no_usage_unless_asked(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-small", Reply(content="abcdefgh", chunks=4))

    stream = await client.chat.completions.create(model="fake-small", messages=HELLO, stream=True)
    chunks = [c async for c in stream]

    assert chunks[0].choices[0].delta.role == "assistant"
    texts = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert texts == ["ab", "cd", "ef", "gh"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert fake.requests[0].stream and fake.requests[0].completed


async def test_stream_ends_with_usage_chunk_when_include_usage(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-small", Reply(content="a b c", prompt_tokens=12, completion_tokens=3))

    stream = await client.chat.completions.create(
        model="fake-small", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "a b c"
    assert len([c for c in chunks if c.choices]) == 5  # role, three words, finish
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (12, 3)


async def test_stream_wire_ends_with_done(fake: FakeProvider) -> None:
    fake.script("fake-small", Reply(content="x"))

    text = await raw_stream(fake, {"model": "fake-small", "messages": HELLO, "stream": True})

    assert text.endswith("data: [DONE]\n\n")


async def test_odd_stream_has_empty_choices_preframe_comments_and_unknown_events(
    fake: FakeProvider,
) -> None:
    fake.script(
        "fake-odd",
        Reply(content="a b", content_filter_preframe=True, sse_comments=True, unknown_events=True),
    )

    text = await raw_stream(fake, {"model": "fake-odd", "messages": HELLO, "stream": True})

    frames = data_frames(text)
    assert json.loads(frames[0])["choices"] == []
    assert ": fake keep-alive" in text
    assert "event: fake.heartbeat\n" in text
    assert frames[-1] == "[DONE]"


async def test_tool_calls_non_stream(fake: FakeProvider, client: openai.AsyncOpenAI) -> None:
    fake.script(
        "fake-tools",
        Reply(
            tool_calls=[
                ToolCall("get_weather", '{"city":"Paris"}'),
                ToolCall("get_time", '{"tz":"CET"}'),
            ]
        ),
    )

    done = await client.chat.completions.create(model="fake-tools", messages=HELLO)

    message = done.choices[0].message
    assert message.content is None
    assert done.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    calls = [(c.function.name, c.function.arguments) for c in message.tool_calls]  # type: ignore[union-attr]
    assert calls == [("get_weather", '{"city":"Paris"}'), ("get_time", '{"tz":"CET"}')]


async def test_tool_calls_stream_as_argument_fragments_with_indexes(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script(
        "fake-tools",
        Reply(
            tool_calls=[
                ToolCall("get_weather", '{"city":"Paris"}'),
                ToolCall("get_time", '{"tz":"CET"}'),
            ]
        ),
    )

    stream = await client.chat.completions.create(model="fake-tools", messages=HELLO, stream=True)
    names: dict[int, str] = {}
    args: dict[int, list[str]] = {}
    finish = None
    async for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for call in choice.delta.tool_calls or []:
            assert call.function is not None
            if call.function.name:
                names[call.index] = call.function.name
            args.setdefault(call.index, []).append(call.function.arguments or "")

    assert names == {0: "get_weather", 1: "get_time"}
    assert "".join(args[0]) == '{"city":"Paris"}'
    assert len([a for a in args[0] if a]) > 1  # really fragmented
    assert "".join(args[1]) == '{"tz":"CET"}'
    assert finish == "tool_calls"


async def test_drop_after_chunks_truncates_the_stream(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-drop", Reply(content="a b c d e f", drop_after_chunks=3))

    stream = await client.chat.completions.create(model="fake-drop", messages=HELLO, stream=True)
    got: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            got.append(chunk.choices[0].delta.content or "")

    assert "".join(got) == "a b c "
    assert fake.disconnects == 0


# -- disconnects ---------------------------------------------------------------------------
async def test_client_leaving_a_slow_stream_is_observed(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-slow", Reply(content="w " * 50, chunk_interval=0.2))

    stream = await client.chat.completions.create(model="fake-slow", messages=HELLO, stream=True)
    async for _ in stream:
        break
    await stream.close()
    await fake.wait_for_disconnects(1, timeout=3.0)

    [seen] = fake.received_for("fake-slow")
    assert seen.disconnected and not seen.completed


async def test_client_timing_out_before_first_byte_is_observed(
    fake: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    fake.script("fake-slow", Reply(first_byte_delay=5.0))

    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="fake-slow", messages=HELLO, timeout=0.2)
    await fake.wait_for_disconnects(1, timeout=3.0)

    assert fake.disconnects == 1


# -- Anthropic ------------------------------------------------------------------------------
async def test_anthropic_message_and_usage(
    fake: FakeProvider, claude: anthropic.AsyncAnthropic
) -> None:
    fake.script(
        "fake-claude",
        Reply(content="bonjour", prompt_tokens=9, completion_tokens=2, cached_tokens=3),
    )

    msg = await claude.messages.create(model="fake-claude", max_tokens=64, messages=HELLO_CLAUDE)

    assert [b.text for b in msg.content if b.type == "text"] == ["bonjour"]
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (9, 2)
    assert msg.usage.cache_read_input_tokens == 3
    [seen] = fake.received_for("fake-claude")
    assert (seen.path, seen.api, seen.body["max_tokens"]) == ("/v1/messages", "anthropic", 64)
    # this SDK generation sends the key as a bearer token, not x-api-key
    assert KEY in (seen.bearer, seen.api_key)
    assert seen.anthropic_version


async def test_anthropic_records_x_api_key_and_version(fake: FakeProvider) -> None:
    fake.script("fake-claude", Reply(content="ok"))
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    body = {"model": "fake-claude", "max_tokens": 8, "messages": HELLO}

    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake.url}/v1/messages?beta=true", json=body, headers=headers
        ) as resp:
            answer = await resp.json()

    assert answer["content"] == [{"type": "text", "text": "ok"}]
    [seen] = fake.requests
    assert (seen.api_key, seen.anthropic_version, seen.bearer) == (KEY, "2023-06-01", None)
    assert seen.query == {"beta": "true"}


async def test_anthropic_stream_has_text_deltas_and_final_usage(
    fake: FakeProvider, claude: anthropic.AsyncAnthropic
) -> None:
    fake.script(
        "fake-claude", Reply(content="one two three", completion_tokens=3, sse_comments=True)
    )

    async with claude.messages.stream(
        model="fake-claude", max_tokens=64, messages=HELLO_CLAUDE
    ) as stream:
        pieces = [t async for t in stream.text_stream]
        final = await stream.get_final_message()

    assert pieces == ["one ", "two ", "three"]
    assert final.usage.output_tokens == 3
    assert final.stop_reason == "end_turn"


async def test_anthropic_stream_tool_use(
    fake: FakeProvider, claude: anthropic.AsyncAnthropic
) -> None:
    fake.script(
        "fake-claude",
        Reply(content="let me see", tool_calls=[ToolCall("get_weather", '{"city":"Paris"}')]),
    )

    async with claude.messages.stream(
        model="fake-claude", max_tokens=64, messages=HELLO_CLAUDE
    ) as stream:
        final = await stream.get_final_message()

    assert [b.type for b in final.content] == ["text", "tool_use"]
    tool = final.content[1]
    assert tool.type == "tool_use"
    assert (tool.name, tool.input) == ("get_weather", {"city": "Paris"})
    assert final.stop_reason == "tool_use"


async def test_anthropic_fail_has_anthropic_error_shape(
    fake: FakeProvider, claude: anthropic.AsyncAnthropic
) -> None:
    fake.script("fake-claude", Fail(529, message="overloaded"))

    with pytest.raises(anthropic.APIStatusError) as err:
        await claude.messages.create(model="fake-claude", max_tokens=8, messages=HELLO_CLAUDE)

    assert err.value.status_code == 529
    assert err.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "overloaded"},
    }


async def test_anthropic_refuses_a_wrong_key(fake: FakeProvider) -> None:
    fake.script("fake-claude", Reply())
    async with anthropic.AsyncAnthropic(
        base_url=fake.url, api_key="sk-wrong", max_retries=0
    ) as wrong:
        with pytest.raises(anthropic.AuthenticationError):
            await wrong.messages.create(model="fake-claude", max_tokens=8, messages=HELLO_CLAUDE)

    assert "sk-wrong" in (fake.requests[0].api_key, fake.requests[0].bearer)
    assert fake.requests[0].status == 401
