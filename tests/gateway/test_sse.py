"""The SSE cleaner, driven by playbooks of upstream bytes split at every boundary."""

from __future__ import annotations

import itertools
import json
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
ERROR_FRAME = (
    b'data: {"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}\n\n'
)
SHAPED_OVERLOADED = {"message": "overloaded", "type": "upstream_error", "param": None, "code": None}
"""`{"message": "overloaded"}` in OpenAI's error shape, as the cleaner sends and records it."""

FINISH_WITHOUT_USAGE = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,'
    b'"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"logprobs":null,'
    b'"finish_reason":"stop"}]}\n\n'
)
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
    ("upstream error frame in shape passes", ROLE + ERROR_FRAME, False, ROLE + ERROR_FRAME + DONE),
    (
        "upstream error frame put into OpenAI's shape, its own values kept",
        ROLE + b'data: {"error": {"message": "region blocked", "code": "geo", "x": 1}}\n\n',
        False,
        ROLE
        + b'data: {"error":{"message":"region blocked","type":"upstream_error","param":null,'
        + b'"code":"geo","x":1}}\n\n'
        + DONE,
    ),
    (
        "upstream error given as a string put into OpenAI's shape",
        ROLE + b'data: {"error": "quota exceeded"}\n\n',
        False,
        ROLE
        + b'data: {"error":{"message":"quota exceeded","type":"upstream_error","param":null,'
        + b'"code":null}}\n\n'
        + DONE,
    ),
    (
        "Anthropic's event: error becomes an OpenAI error frame",
        ROLE
        + b"event: error\n"
        + b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
        False,
        ROLE
        + b'data: {"error":{"message":"Overloaded","type":"overloaded_error","param":null,'
        + b'"code":null}}\n\n'
        + DONE,
    ),
    (
        "usage on the finish frame removed when not asked",
        ROLE + HELLO + chunk(finish="stop", usage=USAGE) + DONE,
        False,
        ROLE + HELLO + FINISH_WITHOUT_USAGE + DONE,
    ),
    (
        "usage on the finish frame kept when asked",
        ROLE + HELLO + chunk(finish="stop", usage=USAGE) + DONE,
        True,
        ROLE + HELLO + chunk(finish="stop", usage=USAGE) + DONE,
    ),
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
    assert cleaner.error == {
        "message": "overloaded",
        "type": "server_error",
        "param": None,
        "code": None,
    }


def test_usage_removed_from_a_frame_with_choices_is_still_recorded() -> None:
    out, cleaner = clean(ROLE + HELLO + chunk(finish="stop", usage=USAGE) + DONE)
    assert out == ROLE + HELLO + FINISH_WITHOUT_USAGE + DONE
    assert cleaner.usage == USAGE and cleaner.finish_reason == "stop"
    assert cleaner.dropped == 0


# --- the end of a stream: complete or cut short -------------------------------------------


@pytest.mark.parametrize(
    ("upstream", "complete"),
    [
        (CONTENT + DONE, True),
        (CONTENT, True),  # a finish_reason without [DONE]: some providers never send it
        (ROLE + HELLO + DONE, True),
        (ROLE + HELLO + WORLD, False),  # neither: the provider stopped mid-answer
        (ROLE, False),
        (CONTENT + HELLO[:30], False),  # a frame cut off after the finish
        (ROLE + HELLO + STOP[:-2], True),  # the last frame whole, only its blank line missing
    ],
)
def test_flush_then_complete_tells_a_whole_answer_from_a_cut_one(
    upstream: bytes, complete: bool
) -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    out = cleaner.feed(upstream) + cleaner.flush()
    assert cleaner.complete is complete
    tail = cleaner.finish() if complete else cleaner.error_tail("cut")
    assert (out + tail).endswith(DONE_FRAME) and (out + tail).count(DONE_FRAME) == 1
    assert (b'"error"' in tail) is not complete


def test_cut_off_last_frame_is_reported_as_truncated() -> None:
    _, cleaner = clean(CONTENT + HELLO[:30])
    assert cleaner.truncated


# --- the opening: ordinary frames go out before they are parsed -------------------------------
#
# Before the first content the cleaner forwards ordinary frames on byte checks and parses
# them afterwards. These cases hold what a client and the gateway see to what parsing
# every frame on arrival gave.


def opening(delta: bytes, *, model: bytes = b'"gpt-4o-mini-2024-07-18"') -> bytes:
    """A frame written by hand, so that spacing and escapes are exactly as given."""
    return (
        b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,'
        b'"model":' + model + b',"system_fingerprint":"fp_1","choices":[{"index":0,'
        b'"delta":' + delta + b',"logprobs":null,"finish_reason":null}]}\n\n'
    )


def first_output(cleaner: StreamCleaner, pieces: Iterable[bytes]) -> tuple[bytes, bool]:
    """What chat.py's `_first_output` decides: the first bytes for the client, and
    whether they are a failure to fall back from (an error before any content)."""
    for piece in pieces:
        out = cleaner.feed(piece)
        if out:
            return out, cleaner.error is not None and not cleaner.first_content
    return b"", False


def facts(cleaner: StreamCleaner) -> tuple[Any, ...]:
    return (
        cleaner.model,
        cleaner.first_content,
        cleaner.error,
        cleaner.usage,
        cleaner.finish_reason,
        cleaner.frames,
        cleaner.dropped,
    )


ESCAPED_MODEL = opening(b'{"role":"assistant","content":""}', model=rb'"org\/caf\u00e9 \"x\""')
LOOKS_ORDINARY_WITH_ERROR = [
    # an error object before choices; the frame still ends like every role frame
    b'data: {"id":"chatcmpl-1","error":{"message":"overloaded"},"choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n',
    # after choices
    b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant"},'
    b'"logprobs":null,"finish_reason":null}],"error":{"message":"overloaded"}}\n\n',
    # spaced
    b'data: {"id": "chatcmpl-1", "error": {"message": "overloaded"}, "choices": [{"index": 0, '
    b'"delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}\n\n',
]


def test_a_model_with_escapes_in_a_frame_sent_unparsed_is_reported_decoded() -> None:
    cleaner = StreamCleaner(served_model="served", keep_usage=False)
    assert cleaner.feed(ESCAPED_MODEL) == ESCAPED_MODEL
    assert cleaner.model == 'org/café "x"'
    cleaner.feed(HELLO)
    assert cleaner.model == 'org/café "x"'


@pytest.mark.parametrize("frame", LOOKS_ORDINARY_WITH_ERROR)
def test_an_ordinary_looking_frame_with_an_error_is_a_failure_at_the_first_output(
    frame: bytes,
) -> None:
    for cut in range(len(frame) + 1):
        cleaner = StreamCleaner(served_model=None, keep_usage=False)
        out, fall_back = first_output(cleaner, [frame[:cut], frame[cut:]])
        assert out == cleaned(frame)
        assert fall_back
        assert cleaner.error == SHAPED_OVERLOADED


def test_an_error_after_the_role_frame_in_the_same_chunk_is_a_failure_at_the_first_output() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    out, fall_back = first_output(cleaner, [ROLE + ERROR_FRAME])
    assert out == ROLE + ERROR_FRAME
    assert fall_back
    assert cleaner.model == "gpt-4o-mini-2024-07-18"


def test_an_error_after_content_in_the_same_chunk_is_not_a_failure_at_the_first_output() -> None:
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    out, fall_back = first_output(cleaner, [ROLE + HELLO + ERROR_FRAME])
    assert out == ROLE + HELLO + ERROR_FRAME
    assert not fall_back  # the content goes to the client, then the error


DELTAS: list[tuple[bytes, bool]] = [
    (b'{"role":"assistant","content":""}', False),
    (b'{"role":"assistant","content":"","refusal":null}', False),
    (b'{"role": "assistant", "content": "", "refusal": null}', False),
    (b'{ "role" : "assistant" }', False),
    (b"{}", False),
    (b'{"role":"assistant","content":null,"tool_calls":[]}', False),
    (b'{"content":false,"reasoning_content":0}', False),
    (b'{"content":" "}', True),
    (b'{ "content" :\t"Hi" }', True),
    (b'{"role":"assistant","content":"","reasoning_content":"Let me"}', True),
    (
        b'{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1",'
        b'"type":"function","function":{"name":"f","arguments":""}}]}',
        True,
    ),
    (rb'{"content":"\"}], \"role\":"}', True),
    (rb'{"content":"\u00e9"}', True),
    (b'{"refusal":"I cannot help with that"}', True),
]


@pytest.mark.parametrize(("delta", "content"), DELTAS, ids=[d.decode() for d, _ in DELTAS])
def test_first_content_is_told_by_the_delta_whatever_its_spacing(
    delta: bytes, content: bool
) -> None:
    for upstream in (opening(delta), ROLE + opening(delta), opening(delta.replace(b":", b": "))):
        cleaner = StreamCleaner(served_model=None, keep_usage=False)
        assert cleaner.feed(upstream) == upstream
        assert cleaner.first_content is content
        assert cleaner.model == "gpt-4o-mini-2024-07-18"


OPENINGS = [
    ROLE + HELLO,
    ESCAPED_MODEL + HELLO,
    AZURE_PREFRAME + ROLE + HELLO,
    chunk("", role="assistant", spaced=True) + chunk("Hi", spaced=True),
    ROLE + LOOKS_ORDINARY_WITH_ERROR[0],
    LOOKS_ORDINARY_WITH_ERROR[1] + HELLO,
    ROLE + STOP + USAGE_FRAME,
    b'data: {"model":"x","choices":[{"delta":{"content":"hi"},"finish_reason":null}]\n\n' + HELLO,
]


@pytest.mark.parametrize("upstream", OPENINGS)
def test_the_opening_split_at_every_byte_gives_the_same_bytes_and_facts(upstream: bytes) -> None:
    whole, cleaner = clean(upstream)
    expected = facts(cleaner)
    for cut in range(len(upstream) + 1):
        out, cleaner = clean([upstream[:cut], upstream[cut:]])
        assert (out, facts(cleaner)) == (whole, expected)
    out, cleaner = clean([upstream[i : i + 1] for i in range(len(upstream))])
    assert (out, facts(cleaner)) == (whole, expected)


def test_facts_of_frames_sent_unparsed_keep_the_streams_order() -> None:
    first = chunk("", role="assistant", model="first-model")
    cleaner = StreamCleaner(served_model=None, keep_usage=False)
    cleaner.feed(first + chunk(finish="stop", model="second-model") + USAGE_FRAME)
    assert cleaner.model == "first-model"
    assert cleaner.finish_reason == "stop"
    assert cleaner.usage == USAGE
    assert not cleaner.first_content


@pytest.mark.parametrize("end", ["finish", "error_tail"])
def test_facts_of_frames_sent_unparsed_are_there_after_the_end(end: str) -> None:
    cleaner = StreamCleaner(served_model="served", keep_usage=False)
    cleaner.feed(ROLE + HELLO)
    if end == "finish":
        cleaner.finish()
    else:
        cleaner.error_tail("gone")
    assert cleaner.model == "gpt-4o-mini-2024-07-18"
    assert cleaner.first_content


def test_a_malformed_frame_that_looks_ordinary_goes_out_and_says_nothing() -> None:
    broken = b'data: {"model":"x","choices":[{"delta":{"content":"hi"},"finish_reason":null}]\n\n'
    out, cleaner = clean(broken)
    assert out == broken + DONE
    assert (cleaner.model, cleaner.first_content) == ("gpt-4o-mini", False)


# a reference: what parsing every frame on arrival reports (the cleaner before its fast path)


# The cleaner's fast path: in an opening, a frame that ends like an ordinary content frame
# and has no "error" bytes goes out unparsed, so a usage placed *before* its choices stays
# (a frame with a finish_reason, such as the final one, is always read).
ORDINARY_ENDINGS = (b'"finish_reason":null}]}\n\n', b'"finish_reason": null}]}\n\n')


def sent_unparsed(frame: bytes) -> bool:
    return frame.endswith(ORDINARY_ENDINGS) and b'"error"' not in frame


def cleaned(frame: bytes) -> bytes:
    """What the cleaner sends for one frame of an opening (keep_usage=False): its error
    (`{"message": "overloaded"}` here) in OpenAI's shape, or without a usage the client
    did not ask for, else the frame as it came."""
    obj = orjson.loads(frame.removeprefix(b"data: "))
    if obj.get("error") is not None:
        obj["error"] = SHAPED_OVERLOADED
    elif isinstance(obj.get("usage"), dict) and not sent_unparsed(frame):
        del obj["usage"]
    else:
        return frame
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def parsed_facts(frames: Sequence[bytes]) -> tuple[Any, ...]:
    model, content, error, usage, reason = None, False, None, None, None
    for frame in frames:
        obj = orjson.loads(frame.removeprefix(b"data: "))
        if obj.get("error") is not None:
            error = SHAPED_OVERLOADED
            continue
        if model is None and isinstance(obj.get("model"), str) and obj["model"]:
            model = obj["model"]
        if isinstance(obj.get("usage"), dict):
            usage = obj["usage"]
        for choice in obj["choices"]:
            reason = choice["finish_reason"] or reason
            content = content or any(v for k, v in choice["delta"].items() if k != "role")
    return model or "served", content, error, usage, reason, len(frames), 0


QUIET_DELTAS: list[dict[str, Any]] = [
    {},
    {"role": "assistant"},
    {"role": "assistant", "content": ""},
    {"role": "assistant", "content": "", "refusal": None},
    {"content": None, "tool_calls": []},
]
CONTENT_DELTAS: list[dict[str, Any]] = [
    {"content": "Hi"},
    {"content": ' "{x}" ', "role": "assistant"},
    {"reasoning_content": "hm"},
    {"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ""}}]},
]


@st.composite
def frames_of_an_opening(draw: st.DrawFn, deltas: list[dict[str, Any]]) -> bytes:
    members: list[tuple[str, Any]] = []
    model = draw(st.sampled_from([None, "", "gpt-4o-mini", "org/llama", 'café "q"']))
    if model is not None:
        members.append(("model", model))
    choice = {
        "index": 0,
        "delta": draw(st.sampled_from(deltas)),
        "logprobs": None,
        "finish_reason": draw(st.sampled_from([None, None, "stop"])),
    }
    members.append(("choices", [choice]))
    for key, values in (("usage", [None, USAGE]), ("error", [None, {"message": "overloaded"}])):
        if draw(st.booleans()):
            members.append((key, draw(st.sampled_from(values))))
    obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk"} | dict(
        draw(st.permutations(members))
    )
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : "), (",\t", ":")]))
    text = json.dumps(obj, separators=separators, ensure_ascii=draw(st.booleans()))
    return b"data: " + text.encode() + b"\n\n"


@settings(max_examples=400, deadline=None)
@given(
    st.lists(frames_of_an_opening(QUIET_DELTAS), max_size=4),
    st.lists(frames_of_an_opening(CONTENT_DELTAS), max_size=1),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_an_opening_reports_what_parsing_every_frame_reports(
    quiet: list[bytes], content: list[bytes], cuts: list[int]
) -> None:
    frames = quiet + content
    upstream = b"".join(frames)
    ends = list(itertools.accumulate(len(cleaned(f)) for f in frames))
    cleaner = StreamCleaner(served_model="served", keep_usage=False)
    sent = b""
    for piece in split_at(upstream, cuts):
        out = cleaner.feed(piece)
        sent += out
        if out:  # what the gateway reads at once: the error among what went out
            returned = frames[: ends.index(len(sent)) + 1]
            assert cleaner.error == parsed_facts(returned)[2]
    assert sent + cleaner.finish() == b"".join(cleaned(f) for f in frames) + DONE
    assert facts(cleaner) == parsed_facts(frames)


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
