"""The /v1/messages stream filters as functions: bytes in, bytes and facts out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orca_desktop.gateway._messages_stream import (
    TRUNCATED,
    AnthropicPassthrough,
    TranslatedStream,
    openai_usage,
)


def event(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


START = event(
    "message_start",
    message={
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x-2025",
        "content": [],
        "stop_reason": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 1,
            "cache_read_input_tokens": 4,
            "cache_creation_input_tokens": 2,
        },
    },
)
BLOCK = event("content_block_start", index=0, content_block={"type": "text", "text": ""})
DELTA = event("content_block_delta", index=0, delta={"type": "text_delta", "text": "hi"})
PING = event("ping")
END = (
    event("content_block_stop", index=0)
    + event(
        "message_delta",
        delta={"stop_reason": "end_turn", "stop_sequence": None},
        usage={"output_tokens": 7},
    )
    + event("message_stop")
)
WHOLE = START + PING + BLOCK + DELTA + END


def openai_frame(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return openai_frame(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt-x",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


USAGE = openai_frame(
    {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "gpt-x",
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2},
    }
)


def events_of(data: bytes) -> list[str]:
    return [line[7:] for line in data.decode().split("\n") if line.startswith("event: ")]


# -- usage --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"input_tokens": 10, "output_tokens": 3}, (10, 3, 0)),
        (
            {
                "input_tokens": 10,
                "output_tokens": 3,
                "cache_read_input_tokens": 4,
                "cache_creation_input_tokens": 2,
            },
            (16, 3, 4),
        ),
        ({"input_tokens": None, "output_tokens": True}, (0, 0, 0)),
    ],
)
def test_openai_usage_counts_cache_reads_and_writes_as_prompt(
    usage: dict[str, Any], expected: tuple[int, int, int]
) -> None:
    out = openai_usage(usage)
    assert out is not None
    assert (
        out["prompt_tokens"],
        out["completion_tokens"],
        out["prompt_tokens_details"]["cached_tokens"],
    ) == expected


def test_openai_usage_of_nothing_is_none() -> None:
    assert openai_usage(None) is None


# -- pass-through -------------------------------------------------------------------


def test_passthrough_forwards_every_frame_unchanged_and_reads_the_facts() -> None:
    f = AnthropicPassthrough(served_model="claude-x")
    out = f.feed(WHOLE) + f.finish()
    assert out == WHOLE
    assert f.first_content and f.saw_done and f.finish_reason == "end_turn"
    assert f.model == "claude-x-2025"
    assert f.usage == {
        "prompt_tokens": 16,
        "completion_tokens": 7,
        "total_tokens": 23,
        "prompt_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 2},
    }


def test_passthrough_usage_waits_for_content() -> None:
    f = AnthropicPassthrough()
    f.feed(START + PING)
    assert f.usage is None and not f.first_content
    f.feed(BLOCK)
    assert f.usage is not None and f.first_content


@given(st.lists(st.integers(min_value=1, max_value=len(WHOLE) - 1), max_size=12))
def test_passthrough_output_does_not_depend_on_chunk_boundaries(cuts: list[int]) -> None:
    f = AnthropicPassthrough()
    bounds = [0, *sorted(set(cuts)), len(WHOLE)]
    out = b"".join(f.feed(WHOLE[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
    assert out + f.finish() == WHOLE
    assert f.saw_done and f.usage is not None and f.usage["completion_tokens"] == 7


def test_passthrough_crlf_frames_are_normalised() -> None:
    f = AnthropicPassthrough()
    out = f.feed(WHOLE.replace(b"\n", b"\r\n")) + f.finish()
    assert out == WHOLE and f.saw_done


def test_passthrough_holds_an_incomplete_frame() -> None:
    f = AnthropicPassthrough()
    assert f.feed(START[:-1]) == b""
    assert f.feed(START[-1:]) == START


def test_passthrough_truncated_stream_ends_with_an_error_event() -> None:
    f = AnthropicPassthrough()
    out = f.feed(START + BLOCK + DELTA) + f.finish()
    assert events_of(out)[-1] == "error" and TRUNCATED.encode() in out
    assert f.finish() == b"" and f.error_tail("x") == b""


def test_passthrough_upstream_error_is_forwarded_once() -> None:
    f = AnthropicPassthrough()
    error = event("error", error={"type": "overloaded_error", "message": "busy"})
    out = f.feed(START + error) + f.finish()
    assert events_of(out) == ["message_start", "error"]
    assert f.error == {"type": "overloaded_error", "message": "busy"}


def test_passthrough_error_tail_closes_it() -> None:
    f = AnthropicPassthrough()
    f.feed(START + BLOCK)
    tail = f.error_tail("provider dropped the stream")
    assert events_of(tail) == ["error"]
    assert json.loads(tail.split(b"data: ", 1)[1])["error"]["type"] == "api_error"
    assert f.feed(DELTA) == b"" and f.finish() == b""


# -- translation ----------------------------------------------------------------------


def test_translated_stream_becomes_anthropic_events_with_usage() -> None:
    t = TranslatedStream(served_model="gpt-x")
    out = t.feed(chunk({"role": "assistant", "content": ""}) + b": keep-alive\n\n")
    assert not t.first_content
    out += t.feed(chunk({"content": "hel"}) + chunk({"content": "lo"}))
    assert t.first_content
    out += t.feed(chunk({}, "stop") + USAGE + b"data: [DONE]\n\n") + t.finish()
    assert events_of(out) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert t.saw_done and t.finish_reason == "stop" and t.model == "gpt-x"
    assert t.usage == {"prompt_tokens": 5, "completion_tokens": 2}
    delta = json.loads(out.split(b"event: message_delta\ndata: ")[1].split(b"\n")[0])
    assert delta["usage"]["input_tokens"] == 5 and delta["usage"]["output_tokens"] == 2


def test_translated_stream_without_finish_ends_with_an_error_event() -> None:
    t = TranslatedStream(served_model="gpt-x")
    out = t.feed(chunk({"content": "partial"})) + t.finish()
    assert events_of(out)[-1] == "error" and b"message_stop" not in out


def test_translated_finish_without_done_but_with_finish_reason_is_clean() -> None:
    t = TranslatedStream(served_model="gpt-x")
    out = t.feed(chunk({"content": "x"}) + chunk({}, "length")) + t.finish()
    assert events_of(out)[-2:] == ["message_delta", "message_stop"]
    assert b'"stop_reason":"max_tokens"' in out


def test_translated_upstream_error_frame_becomes_an_error_event() -> None:
    t = TranslatedStream(served_model="gpt-x")
    out = t.feed(chunk({"content": "x"}) + openai_frame({"error": {"message": "boom"}}))
    out += t.finish()
    assert events_of(out)[-1] == "error" and b"boom" in out
    assert t.error == {"message": "boom", "type": "upstream_error", "param": None, "code": None}
