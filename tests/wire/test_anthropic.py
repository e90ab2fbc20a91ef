"""Anthropic Messages: inbound validation and translation to and from OpenAI chat completions."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2 as httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca_desktop.wire.anthropic import (
    OpenAIToAnthropicStream,
    anthropic_to_openai_request,
    openai_to_anthropic_response,
    validate_messages_request,
)
from orca_desktop.wire.errors import ApiError
from orca_desktop.wire.openai import validate_chat_request


def make_messages_request(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "What's the weather in Oslo?"}],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CLAUDE_CODE_TURN = make_messages_request(
    system=[
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
    ],
    messages=[
        {"role": "user", "content": [{"type": "text", "text": "weather in Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "the user wants weather", "signature": "sig"},
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny, 21C"},
                {"type": "text", "text": "and tomorrow?"},
            ],
        },
    ],
    tools=[TOOL, {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    tool_choice={"type": "auto"},
    stream=True,
    metadata={"user_id": "user-1"},
    thinking={"type": "enabled", "budget_tokens": 8000},
    top_k=40,
    context_management={"edits": []},
)


# --- validation ------------------------------------------------------------------------------


def test_claude_code_turn_is_valid_and_unknown_fields_are_kept() -> None:
    request = validate_messages_request(CLAUDE_CODE_TURN)
    assert request.model_extra == {"context_management": {"edits": []}}


def test_unknown_content_block_types_pass() -> None:
    request = validate_messages_request(
        make_messages_request(
            messages=[{"role": "user", "content": [{"type": "search_result", "source": "x"}]}]
        )
    )
    block = request.messages[0].content[0]
    assert block.type == "search_result" and block.model_extra == {"source": "x"}


INVALID: list[tuple[dict[str, Any], str, str]] = [
    (make_messages_request(model=...), "model", "model: Field required"),
    (make_messages_request(max_tokens=...), "max_tokens", "max_tokens: Field required"),
    (
        make_messages_request(max_tokens=0),
        "max_tokens",
        "max_tokens: Input should be greater than or equal to 1",
    ),
    (make_messages_request(messages=[]), "messages", "messages: List should have at least 1"),
    (
        make_messages_request(messages=[{"role": "wizard", "content": "x"}]),
        "messages[0].role",
        "messages.0.role: Input should be 'user', 'assistant' or 'system'",
    ),
    (
        make_messages_request(messages=[{"role": "user", "content": 3}]),
        "messages[0].content",
        "messages.0.content: Input should be a string or a list of content blocks",
    ),
    (
        make_messages_request(messages=[{"role": "user", "content": [{"text": "x"}]}]),
        "messages[0].content[0].type",
        "messages.0.content.0.type: Field required",
    ),
    (
        make_messages_request(messages=[{"role": "user", "content": [{"type": "tool_result"}]}]),
        "messages[0].content[0].tool_use_id",
        "messages.0.content.0.tool_use_id: Field required",
    ),
    (
        make_messages_request(
            messages=[
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}],
                }
            ]
        ),
        "messages[0].content[0].input",
        "messages.0.content.0.input: Input should be a valid dictionary",
    ),
    (
        make_messages_request(system=[{"type": "image"}]),
        "system[0].type",
        "system.0.type: Input should be 'text'",
    ),
    (
        make_messages_request(system=5),
        "system",
        "system: Input should be a string or a list of text blocks",
    ),
    (make_messages_request(stream="yes"), "stream", "stream: Input should be a valid boolean"),
    (
        make_messages_request(temperature=1.5),
        "temperature",
        "temperature: Input should be less than or equal to 1",
    ),
    (make_messages_request(top_p=-1), "top_p", "top_p: Input should be greater than or equal"),
    (make_messages_request(top_k=-1), "top_k", "top_k: Input should be greater than or equal"),
    (
        make_messages_request(stop_sequences="END"),
        "stop_sequences",
        "stop_sequences: Input should be a valid list",
    ),
    (
        make_messages_request(tools=[{"name": "f"}]),
        "tools[0].input_schema",
        "tools.0.input_schema: Field required",
    ),
    (
        make_messages_request(tool_choice={"type": "required"}),
        "tool_choice.type",
        "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'",
    ),
    (
        make_messages_request(tool_choice={"type": "tool"}),
        "tool_choice.name",
        "tool_choice.name: Field required",
    ),
    (
        make_messages_request(metadata={"user_id": 5}),
        "metadata.user_id",
        "metadata.user_id: Input should be a valid string",
    ),
    (
        make_messages_request(thinking={"type": "enabled", "budget_tokens": 100}),
        "thinking.budget_tokens",
        "thinking.budget_tokens: Input should be greater than or equal to 1024",
    ),
    (
        make_messages_request(thinking={"type": "enabled"}),
        "thinking.budget_tokens",
        "thinking.budget_tokens: Field required",
    ),
    (
        make_messages_request(thinking={"type": "auto"}),
        "thinking.type",
        "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'",
    ),
]


@pytest.mark.parametrize(("body", "param", "words"), INVALID, ids=[p for _, p, _ in INVALID])
def test_invalid_field_is_a_400_worded_as_anthropic_words_it(
    body: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(ApiError) as info:
        validate_messages_request(body)
    assert info.value.status == 400
    assert info.value.param == param
    # Anthropic's form: the dotted path, pydantic's words, nothing after them
    assert info.value.message.startswith(words)
    assert "(got" not in info.value.message and "more problem" not in info.value.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "role", "content", "text", "name", "input", "tool_use_id"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(CLAUDE_CODE_TURN)), json_values, json_values)
def test_any_json_only_raises_api_error(field: str, value: Any, block: Any) -> None:
    for body in (
        {**CLAUDE_CODE_TURN, field: value},
        make_messages_request(messages=[{"role": "user", "content": [block]}]),
        value,
    ):
        try:
            validate_messages_request(body)
        except ApiError as error:
            assert error.status == 400


# --- Anthropic request -> OpenAI request ----------------------------------------------------------


def test_claude_code_turn_becomes_a_valid_openai_request() -> None:
    out = anthropic_to_openai_request(CLAUDE_CODE_TURN)
    validate_chat_request(out)
    assert out["messages"] == [
        {"role": "system", "content": "You are Claude Code."},
        {"role": "user", "content": "weather in Oslo?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_01",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01", "content": "sunny, 21C"},
        {"role": "user", "content": "and tomorrow?"},
    ]
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": TOOL["input_schema"],
            },
        }
    ]
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    assert out["tool_choice"] == "auto"
    assert out["user"] == "user-1"
    assert out["reasoning_effort"] == "medium"
    assert "top_k" not in out and "context_management" not in out and "thinking" not in out


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_is_mapped(choice: dict[str, Any], expected: Any) -> None:
    out = anthropic_to_openai_request(make_messages_request(tools=[TOOL], tool_choice=choice))
    assert out["tool_choice"] == expected
    validate_chat_request(out)


def test_images_and_stop_sequences_are_mapped() -> None:
    out = anthropic_to_openai_request(
        make_messages_request(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/jpeg",
                                "data": "AAAA",
                            },
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                    ],
                }
            ],
            stop_sequences=["a", "b", "c", "d", "e"],
            temperature=0.2,
        )
    )
    validate_chat_request(out)
    assert out["messages"][0]["content"][1:] == [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
    ]
    assert out["stop"] == ["a", "b", "c", "d"]
    assert out["temperature"] == 0.2


# --- OpenAI response -> Anthropic response ----------------------------------------------------


def completion(
    *, content: str | None = "Hello!", tool_calls: list[Any] | None = None, finish: str = "stop"
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 7,
            "total_tokens": 107,
            "prompt_tokens_details": {"cached_tokens": 60},
        },
    }


WEATHER_CALL = {
    "id": "call_abc",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
}


def test_text_response_becomes_an_anthropic_message() -> None:
    message = openai_to_anthropic_response(completion(), "gpt-4o-mini")
    assert message == {
        "id": "msg_chatcmpl-9",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o-mini-2024-07-18",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 40,
            "output_tokens": 7,
            "cache_read_input_tokens": 60,
            "cache_creation_input_tokens": 0,
        },
    }


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_finish_reasons_are_mapped(finish: str, reason: str) -> None:
    assert openai_to_anthropic_response(completion(finish=finish), "m")["stop_reason"] == reason


def test_tool_calls_round_trip_back_to_the_same_openai_calls() -> None:
    message = openai_to_anthropic_response(
        completion(content=None, tool_calls=[WEATHER_CALL], finish="tool_calls"), "m"
    )
    assert message["content"] == [
        {"type": "tool_use", "id": "call_abc", "name": "get_weather", "input": {"city": "Oslo"}}
    ]
    assert message["stop_reason"] == "tool_use"
    next_turn = make_messages_request(
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": message["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "call_abc", "content": "sunny"}],
            },
        ],
        tools=[TOOL],
    )
    validate_messages_request(next_turn)
    out = anthropic_to_openai_request(next_turn)
    call = out["messages"][1]["tool_calls"][0]
    assert call["id"] == "call_abc"
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert out["messages"][2] == {"role": "tool", "tool_call_id": "call_abc", "content": "sunny"}


def test_unparseable_tool_arguments_are_kept_for_the_model() -> None:
    bad = {"id": "c.1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    block = openai_to_anthropic_response(completion(tool_calls=[bad]), "m")["content"][1]
    assert block["input"] == {"arguments": "{oops"}
    assert block["id"] == "c_1"


# --- streaming ------------------------------------------------------------------------------------


def sse(frame: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(frame) + b"\n\n"


def openai_chunks(*deltas: dict[str, Any], finish: str = "stop") -> bytes:
    base = {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
    }
    out = [
        sse({**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}) for d in deltas
    ]
    out.append(sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    out.append(sse({**base, "choices": [], "usage": completion()["usage"]}))
    return b"".join(out) + b"data: [DONE]\n\n"


TEXT_STREAM = openai_chunks(
    {"role": "assistant", "content": ""}, {"content": "Hel"}, {"content": "lo!"}
)
TOOL_STREAM = openai_chunks(
    {"role": "assistant", "content": "Checking."},
    {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_abc",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    },
    {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
    {"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]},
    {
        "tool_calls": [
            {
                "index": 1,
                "id": "call_def",
                "type": "function",
                "function": {"name": "get_time", "arguments": "{}"},
            }
        ]
    },
    finish="tool_calls",
)


def translate(upstream: bytes, cuts: list[int] | None = None) -> bytes:
    stream = OpenAIToAnthropicStream(model="gpt-4o-mini")
    points = sorted({c % (len(upstream) + 1) for c in cuts or []})
    edges = [0, *points, len(upstream)]
    out = b"".join(stream.feed(upstream[a:b]) for a, b in zip(edges, edges[1:], strict=False))
    return out + stream.finish()


def sdk_final_message(body: bytes) -> Any:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    with httpx.Client(transport=httpx.MockTransport(respond)) as http:
        client = anthropic.Anthropic(api_key="sk-test", base_url="http://test", http_client=http)
        with client.messages.stream(
            model="auto", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            return stream.get_final_message()


def test_text_stream_reads_in_the_anthropic_sdk() -> None:
    message = sdk_final_message(translate(TEXT_STREAM))
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Hello!"
    assert message.stop_reason == "end_turn"
    assert message.model == "gpt-4o-mini-2024-07-18"
    assert message.usage.output_tokens == 7


def test_tool_stream_matches_the_non_stream_translation() -> None:
    message = sdk_final_message(translate(TOOL_STREAM))
    expected = openai_to_anthropic_response(
        completion(
            content="Checking.",
            finish="tool_calls",
            tool_calls=[
                WEATHER_CALL,
                {
                    "id": "call_def",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        ),
        "m",
    )
    got = message.model_dump(exclude_none=True)
    assert [{k: v for k, v in b.items() if k != "citations"} for b in got["content"]] == (
        expected["content"]
    )
    assert got["stop_reason"] == expected["stop_reason"] == "tool_use"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([TEXT_STREAM, TOOL_STREAM]), st.lists(st.integers(min_value=0), max_size=8))
def test_stream_translation_does_not_depend_on_chunk_boundaries(
    upstream: bytes, cuts: list[int]
) -> None:
    assert translate(upstream, cuts) == translate(upstream)


def test_event_order_is_anthropics() -> None:
    names = [
        line[7:]
        for line in translate(TOOL_STREAM).decode().split("\n")
        if line.startswith("event: ")
    ]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_stream_without_done_is_closed_by_finish_once() -> None:
    stream = OpenAIToAnthropicStream(model="m")
    body = stream.feed(TEXT_STREAM.replace(b"data: [DONE]\n\n", b""))
    body += stream.finish()
    assert body.count(b"event: message_stop") == 1
    assert stream.finish() == b""


def test_upstream_error_becomes_an_anthropic_error_event() -> None:
    stream = OpenAIToAnthropicStream(model="m")
    body = stream.feed(TEXT_STREAM[:200] + b"\n\n")  # some frames
    body += stream.feed(b'data: {"error": {"message": "provider went away"}}\n\n')
    assert b"event: error\n" in body
    with pytest.raises(anthropic.APIStatusError, match="provider went away"):
        sdk_final_message(body)
    assert stream.finish() == b""


def test_error_tail_shape() -> None:
    stream = OpenAIToAnthropicStream(model="m")
    tail = stream.error_tail("timed out", type="overloaded_error")
    assert tail == (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"timed out"}}\n\n'
    )
