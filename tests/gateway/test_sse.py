"""The SSE cleaner, driven by playbooks of upstream bytes split at every boundary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca_desktop.gateway.sse import DONE_FRAME, StreamCleaner

# --- upstream frame factories -----------------------------------------------------------


def chunk(
    content: str | None = None,
    *,
    role: str | None = None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
    choices: bool = True,
    model: str = "gpt-4o-mini-2024-07-18",
    spaced: bool = False,
) -> bytes:
    """One OpenAI chat.completion.chunk frame, as OpenAI writes it."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    frame = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1730000000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        if choices
        else [],
        "usage": usage,
    }
    if spaced:
        import json

        return b"data: " + json.dumps(frame).encode() + b"\n\n"
    return b"data: " + orjson.dumps(frame) + b"\n\n"


USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
ROLE = chunk("", role="assistant")
HELLO = chunk("Hello")
WORLD = chunk(" world")
STOP = chunk(finish="stop")
USAGE_FRAME = chunk(usage=USAGE, choices=False)
DONE = b"data: [DONE]\n\n"
AZURE_PREFRAME = (
    b'data: {"choices":[],"created":0,"id":"","model":"","object":"",'
    b'"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}\n\n'
)
ERROR_FRAME = b'data: {"error":{"message":"overloaded","type":"server_error","code":null}}\n\n'

OPENAI_STREAM = ROLE + HELLO + WORLD + STOP + USAGE_FRAME + DONE
CONTENT = ROLE + HELLO + WORLD + STOP


def clean(
    upstream: bytes | Iterable[bytes], *, keep_usage: bool = False
) -> tuple[bytes, StreamCleaner]:
    cleaner = StreamCleaner(served_model="gpt-4o-mini", keep_usage=keep_usage)
    pieces = [upstream] if isinstance(upstream, bytes) else upstream
    out = b"".join(cleaner.feed(piece) for piece in pieces) + cleaner.finish()
    return out, cleaner


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def events(stream: bytes) -> list[tuple[str, str]]:
    """A reference SSE parser (WHATWG rules): [(event type, data)] as a client sees them."""
    text = stream.decode()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[tuple[str, str]] = []
    data: list[str] = []
    kind = ""
    for line in lines:
        if line == "":
            if data:
                out.append((kind or "message", "\n".join(data)))
            data, kind = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value
    return out


# --- playbooks: upstream bytes -> what the client receives --------------------------------

PLAYBOOKS: list[tuple[str, bytes, bool, bytes]] = [
    ("usage frame removed when not asked", OPENAI_STREAM, False, CONTENT + DONE),
    ("usage frame kept when asked", OPENAI_STREAM, True, OPENAI_STREAM),
    (
        "comments stripped",
        b": keep-alive\n\n" + ROLE + b": OPENROUTER PROCESSING\n\n" + HELLO + DONE,
        False,
        ROLE + HELLO + DONE,
    ),
    (
        "unknown events stripped, message events kept",
        b'event: routing\ndata: {"router":"auto"}\n\n'
        + b"event: message\n"
        + ROLE
        + b"event: summary\ndata: {}\n\n"
        + HELLO,
        False,
        ROLE + HELLO + DONE,
    ),
    ("content-filter pre-frame dropped", AZURE_PREFRAME + CONTENT + DONE, False, CONTENT + DONE),
    ("missing [DONE] added", CONTENT, False, CONTENT + DONE),
    ("[DONE] sent once, nothing after it", CONTENT + DONE + HELLO + DONE, False, CONTENT + DONE),
    ("upstream error frame passes", ROLE + ERROR_FRAME, False, ROLE + ERROR_FRAME + DONE),
    (
        "event: error becomes an error frame",
        ROLE + b'event: error\ndata: {"message":"boom"}\n\n',
        False,
        ROLE
        + b'data: {"error":{"message":"boom","type":"upstream_error","param":null,"code":null}}\n\n'
        + DONE,
    ),
    (
        "data without a space passes unchanged",
        b'data:{"choices":[{"delta":{"content":"x"}}]}\n\n',
        False,
        b'data:{"choices":[{"delta":{"content":"x"}}]}\n\n' + DONE,
    ),
    (
        "CRLF frames written with LF",
        (CONTENT + DONE).replace(b"\n", b"\r\n"),
        False,
        CONTENT + DONE,
    ),
    (
        "bare CR frames written with LF",
        (CONTENT + DONE).replace(b"\n", b"\r"),
        False,
        CONTENT + DONE,
    ),
    (
        "multi-line data joined back as the client would read it",
        b'data: {"choices":[{"delta":\ndata: {"content":"x"}}]}\n\n',
        False,
        b'data: {"choices":[{"delta":\ndata: {"content":"x"}}]}\n\n' + DONE,
    ),
    (
        "multi-line data with CRLF split between CR and LF stays one event",
        b'data: {"choices":[{"delta":\r\ndata: {"content":"x"}}]}\r\n\r\n',
        False,
        b'data: {"choices":[{"delta":\ndata: {"content":"x"}}]}\n\n' + DONE,
    ),
    ("id and retry lines dropped", b"id: 7\nretry: 10\n" + HELLO, False, HELLO + DONE),
    ("extra blank lines ignored", b"\n\n\n" + HELLO + b"\n\n" + WORLD, False, HELLO + WORLD + DONE),
    ("whole last frame without blank line kept", CONTENT + b"data: [DONE]", False, CONTENT + DONE),
    ("cut-off last frame dropped", CONTENT + HELLO[:30], False, CONTENT + DONE),
    (
        "spaced JSON passes unchanged",
        chunk("hi", spaced=True),
        False,
        chunk("hi", spaced=True) + DONE,
    ),
]


@pytest.mark.parametrize(
    ("upstream", "keep_usage", "expected"),
    [p[1:] for p in PLAYBOOKS],
    ids=[p[0] for p in PLAYBOOKS],
)
def test_playbook_in_one_piece(upstream: bytes, keep_usage: bool, expected: bytes) -> None:
    out, _ = clean(upstream, keep_usage=keep_usage)
    assert out == expected


@pytest.mark.parametrize(
    ("upstream", "keep_usage", "expected"),
    [p[1:] for p in PLAYBOOKS],
    ids=[p[0] for p in PLAYBOOKS],
)
def test_playbook_byte_by_byte(upstream: bytes, keep_usage: bool, expected: bytes) -> None:
    out, _ = clean([upstream[i : i + 1] for i in range(len(upstream))], keep_usage=keep_usage)
    assert out == expected


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PLAYBOOKS), st.lists(st.integers(min_value=0), max_size=12))
def test_playbook_split_anywhere_gives_the_same_output(
    playbook: tuple[str, bytes, bool, bytes], cuts: list[int]
) -> None:
    _, upstream, keep_usage, expected = playbook
    out, _ = clean(split_at(upstream, cuts), keep_usage=keep_usage)
    assert out == expected


# --- forwarding without delay ---------------------------------------------------------------


def test_each_complete_frame_is_forwarded_by_the_feed_that_completes_it() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=True)
    for frame in (ROLE, HELLO, WORLD, STOP, USAGE_FRAME, DONE):
        assert cleaner.feed(frame) == frame
    assert cleaner.finish() == b""


def test_a_frame_goes_out_when_its_blank_line_arrives() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    assert cleaner.feed(HELLO[:-1]) == b""
    assert cleaner.feed(b"\n" + WORLD[:10]) == HELLO
    assert cleaner.feed(WORLD[10:]) == WORLD


def test_several_frames_in_one_feed_all_go_out() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    assert cleaner.feed(ROLE + HELLO + WORLD[:5]) == ROLE + HELLO


# --- facts ------------------------------------------------------------------------------------


def test_usage_is_recorded_even_when_the_frame_is_removed() -> None:
    _, cleaner = clean(OPENAI_STREAM, keep_usage=False)
    assert cleaner.usage == USAGE
    assert cleaner.saw_done
    assert cleaner.finish_reason == "stop"
    assert cleaner.frames == 5
    assert cleaner.dropped == 1


def test_model_is_recorded_as_reported_and_never_rewritten() -> None:
    out, cleaner = clean(AZURE_PREFRAME + CONTENT)
    assert cleaner.model == "gpt-4o-mini-2024-07-18"
    assert b'"model":"gpt-4o-mini"' not in out
    _, silent = clean(b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n')
    assert silent.model == "gpt-4o-mini"  # served_model when the provider reported none


def test_first_content_waits_for_a_non_empty_delta() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    cleaner.feed(AZURE_PREFRAME + ROLE)
    assert not cleaner.first_content
    cleaner.feed(HELLO)
    assert cleaner.first_content


def test_tool_call_deltas_count_as_content() -> None:
    frame = b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c"}]}}]}\n\n'
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    cleaner.feed(frame)
    assert cleaner.first_content


def test_saw_done_only_when_upstream_sent_it() -> None:
    _, cleaner = clean(CONTENT)
    assert not cleaner.saw_done


def test_upstream_error_is_recorded() -> None:
    _, cleaner = clean(ROLE + ERROR_FRAME)
    assert cleaner.error == {"message": "overloaded", "type": "server_error", "code": None}


def test_cut_off_last_frame_is_reported_as_truncated() -> None:
    _, cleaner = clean(CONTENT + HELLO[:30])
    assert cleaner.truncated


# --- endings ---------------------------------------------------------------------------------


def test_error_tail_is_an_error_frame_then_done() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    cleaner.feed(ROLE + HELLO[:20])
    tail = cleaner.error_tail("anthropic timed out after the first byte", code="upstream_timeout")
    assert tail.endswith(b"\n\n" + DONE_FRAME)
    assert tail.count(DONE_FRAME) == 1
    parsed = events(tail)
    assert orjson.loads(parsed[0][1]) == {
        "error": {
            "message": "anthropic timed out after the first byte",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_timeout",
        }
    }
    assert parsed[1] == ("message", "[DONE]")
    assert cleaner.finish() == b""
    assert cleaner.feed(HELLO) == b""


def test_error_tail_after_done_sends_nothing() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    cleaner.feed(CONTENT + DONE)
    assert cleaner.error_tail("late") == b""


def test_finish_twice_sends_done_once() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    assert cleaner.finish() == DONE_FRAME
    assert cleaner.finish() == b""


# --- hypothesis: random upstreams keep the client's invariants ----------------------------------

FRAMES = [
    ROLE,
    HELLO,
    WORLD,
    STOP,
    USAGE_FRAME,
    DONE,
    AZURE_PREFRAME,
    ERROR_FRAME,
    b": keep-alive\n\n",
    b"event: ping\ndata: {}\n\n",
    b"\n",
    b"id: 1\n\n",
    b'data: {"choices":[{"delta":\ndata: {"content":"x"}}]}\n\n',
    chunk("z", spaced=True),
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(FRAMES), max_size=12),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.booleans(),
    st.lists(st.integers(min_value=0), max_size=10),
)
def test_any_upstream_gives_clean_events_ending_in_one_done(
    frames: Sequence[bytes], newline: bytes, keep_usage: bool, cuts: list[int]
) -> None:
    upstream = b"".join(frames).replace(b"\n", newline)
    whole, _ = clean(upstream, keep_usage=keep_usage)
    pieces, _ = clean(split_at(upstream, cuts), keep_usage=keep_usage)
    assert pieces == whole
    received = events(whole)
    assert received[-1] == ("message", "[DONE]")
    assert [e for e in received if e[1] == "[DONE]"] == [("message", "[DONE]")]
    for kind, data in received[:-1]:
        assert kind == "message"
        frame = orjson.loads(data)
        if "error" in frame:
            continue
        assert frame["choices"] or (keep_usage and frame["usage"])
    assert b":" not in b"".join(line[:1] for line in whole.split(b"\n"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(min_value=0), max_size=6))
def test_arbitrary_bytes_never_raise_and_end_in_done(data: bytes, cuts: list[int]) -> None:
    whole, _ = clean(data)
    pieces, _ = clean(split_at(data, cuts))
    assert whole == pieces
    assert whole.endswith(DONE_FRAME)


# --- what an SDK sees --------------------------------------------------------------------------


def sdk_chunks(body: bytes) -> list[Any]:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    with httpx.Client(transport=httpx.MockTransport(respond)) as http:
        client = openai.OpenAI(api_key="sk-test", base_url="http://test/v1", http_client=http)
        stream = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        return list(stream)


def test_openai_sdk_reads_choices_zero_of_every_cleaned_chunk() -> None:
    upstream = AZURE_PREFRAME + b": keep-alive\n\n" + OPENAI_STREAM
    cleaned, _ = clean(split_at(upstream, [7, 100, 333]), keep_usage=False)
    text = "".join(c.choices[0].delta.content or "" for c in sdk_chunks(cleaned))
    assert text == "Hello world"


def test_openai_sdk_raises_on_the_error_tail() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    body = cleaner.feed(ROLE + HELLO) + cleaner.error_tail("provider went away")
    with pytest.raises(openai.APIError, match="provider went away"):
        sdk_chunks(body)


@pytest.mark.bench
def test_bench_cleaner_cost_per_chunk_of_a_50_chunk_stream() -> None:
    import timeit

    upstream = [ROLE, *[chunk(f" word{i}") for i in range(46)], STOP, USAGE_FRAME, DONE]

    def run() -> None:
        cleaner = StreamCleaner(served_model="gpt-4o-mini", keep_usage=False)
        for piece in upstream:
            cleaner.feed(piece)
        cleaner.finish()

    n = 2000
    per_chunk_us = timeit.timeit(run, number=n) / n / len(upstream) * 1e6
    print(f"\nStreamCleaner: {per_chunk_us:.2f} us per chunk ({len(upstream)}-chunk stream)")
