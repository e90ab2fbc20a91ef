"""Chat → Anthropic Messages → chat keeps a tool-using conversation whole.

Hypothesis builds conversations (system, user turns, assistant tool calls with JSON
arguments, tool results); `chat_to_messages_request` and the inbound translator
`anthropic_to_openai_request` must give back every text, every tool call id (as
sanitised for Anthropic), name and argument, and never raise on a valid request.
Also the stream translator: Anthropic events fed in any chunking give the same
chat chunks, and tool-call fragments reassemble to the JSON that was sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from orca_desktop.wire.anthropic import anthropic_to_openai_request
from orca_desktop.wire.chat_to_anthropic import (
    MessagesToChatStream,
    chat_to_messages_request,
    takes_mid_conversation_system,
)
from orca_desktop.wire.openai import validate_chat_request

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
IDS = st.from_regex(r"call[._:a-zA-Z0-9-]{1,12}", fullmatch=True)
ARGS = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=6),
    st.one_of(st.integers(-5, 5), st.text(max_size=10), st.booleans()),
    max_size=3,
)


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(TEXT)})
    for _ in range(draw(st.integers(1, 3))):
        messages.append({"role": "user", "content": draw(TEXT)})
        if draw(st.booleans()):
            calls = [
                {
                    "id": draw(IDS) + str(i),
                    "type": "function",
                    "function": {"name": draw(st.sampled_from(["f", "g"])), "arguments": ""},
                }
                for i in range(draw(st.integers(1, 3)))
            ]
            for call in calls:
                call["function"]["arguments"] = json.dumps(draw(ARGS))
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            for call in calls:
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": draw(TEXT)}
                )
            messages.append({"role": "assistant", "content": draw(TEXT)})
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("f", "g")
    ]
    return {"model": "claude-x", "messages": messages, "tools": tools}


def _safe(call_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id)


@settings(max_examples=150, deadline=None)
@given(conversations(), st.booleans())
def test_a_tool_conversation_survives_chat_to_messages_to_chat(
    body: dict[str, Any], cache: bool
) -> None:
    validate_chat_request(body)
    call = chat_to_messages_request(
        body, upstream_model="claude-x", max_output_tokens=None, mid_system=False, cache=cache
    )
    back = anthropic_to_openai_request(call.body)
    texts: list[str] = []
    for m in back["messages"]:
        content = m.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):  # merged same-role turns come back as parts
            texts += [p["text"] for p in content if p.get("type") == "text"]
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str) and content:
            assert any(content in t for t in texts), content
    sent_calls = [
        (_safe(c["id"]), c["function"]["name"], json.loads(c["function"]["arguments"]))
        for m in body["messages"]
        for c in m.get("tool_calls") or ()
    ]
    got_calls = [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for m in back["messages"]
        for c in m.get("tool_calls") or ()
    ]
    assert got_calls == sent_calls
    results = [m["tool_call_id"] for m in back["messages"] if m["role"] == "tool"]
    assert results == [_safe(m["tool_call_id"]) for m in body["messages"] if m["role"] == "tool"]
    # Anthropic's alternation: user and assistant turns alternate after translation
    roles = [t["role"] for t in call.body["messages"]]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
    assert orjson.dumps(call.body).count(b'"cache_control"') <= 4


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {"model": st.just("m"), "messages": st.just([{"role": "user", "content": "hi"}])},
        optional={
            "temperature": st.floats(0, 2),
            "top_p": st.floats(0, 1),
            "max_tokens": st.integers(1, 200_000),
            "stop": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=4)),
            "reasoning_effort": st.sampled_from(["none", "minimal", "low", "medium", "xhigh"]),
            "tool_choice": st.sampled_from(["auto", "none", "required"]),
            "parallel_tool_calls": st.booleans(),
            "user": st.text(max_size=5),
            "n": st.integers(1, 3),
            "seed": st.integers(),
            "response_format": st.sampled_from(
                [
                    {"type": "text"},
                    {"type": "json_object"},
                    {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
                ]
            ),
        },
    )
)
def test_the_translator_never_raises_on_a_valid_request(body: dict[str, Any]) -> None:
    validate_chat_request(body)
    dropped: list[str] = []
    call = chat_to_messages_request(
        body, upstream_model="m", max_output_tokens=8192, mid_system=True, dropped=dropped
    )
    out = call.body
    assert out["max_tokens"] >= 1
    assert out.get("temperature", 0) <= 1
    if "thinking" in out:
        assert out["thinking"]["budget_tokens"] < out["max_tokens"]
    for name in ("n", "seed"):
        assert (name in dropped) == (name in body)


def test_a_mid_conversation_system_turn_stays_in_place_for_models_that_take_it() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "top"},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "environment"},
        ],
    }
    kept = chat_to_messages_request(body, upstream_model="m", max_output_tokens=None,
                                    mid_system=True, cache=False).body  # fmt: skip
    assert kept["system"] == [{"type": "text", "text": "top"}]
    assert kept["messages"][-1] == {"role": "system", "content": [
        {"type": "text", "text": "environment"}]}  # fmt: skip
    joined = chat_to_messages_request(body, upstream_model="m", max_output_tokens=None,
                                      mid_system=False, cache=False).body  # fmt: skip
    assert [b["text"] for b in joined["system"]] == ["top", "environment"]
    assert [t["role"] for t in joined["messages"]] == ["user"]
    assert takes_mid_conversation_system("claude-opus-5-5")
    assert takes_mid_conversation_system("claude-opus-4-8-20261001")
    assert not takes_mid_conversation_system("claude-sonnet-4-5")
    assert not takes_mid_conversation_system("gpt-4o")


def _events(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(
        b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **data}) + b"\n\n"
        for name, data in events
    )


TOOL_STREAM = _events(
    ("message_start", {"message": {"id": "msg_1", "model": "claude-x-1", "usage": {
        "input_tokens": 5, "cache_read_input_tokens": 7, "cache_creation_input_tokens": 3}}}),
    ("ping", {}),
    ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
    ("content_block_stop", {"index": 0}),
    ("content_block_start", {"index": 1, "content_block": {
        "type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
    ("content_block_delta", {"index": 1, "delta": {
        "type": "input_json_delta", "partial_json": '{"a": '}}),
    ("content_block_delta", {"index": 1, "delta": {
        "type": "input_json_delta", "partial_json": '[1, "x"]}'}}),
    ("content_block_stop", {"index": 1}),
    ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
    ("message_stop", {}),
)  # fmt: skip


def _chunks(out: bytes) -> list[Any]:
    frames = [f[6:] for f in out.split(b"\n\n") if f.startswith(b"data: ")]
    return [orjson.loads(f) for f in frames if f != b"[DONE]"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, len(TOOL_STREAM) - 1), max_size=12))
def test_the_stream_translation_does_not_depend_on_chunking(cuts: list[int]) -> None:
    whole = MessagesToChatStream(served_model="s", keep_usage=True)
    expected = whole.feed(TOOL_STREAM) + whole.finish()
    split = MessagesToChatStream(served_model="s", keep_usage=True)
    bounds = [0, *sorted(set(cuts)), len(TOOL_STREAM)]
    out = b"".join(split.feed(TOOL_STREAM[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
    assert _chunks(out + split.finish()) == _chunks(expected)
    chunks = _chunks(expected)
    args = "".join(
        c["choices"][0]["delta"].get("tool_calls", [{}])[0].get("function", {}).get("arguments", "")
        for c in chunks
        if c.get("choices")
    )
    assert json.loads(args) == {"a": [1, "x"]}
    assert chunks[-1]["usage"]["prompt_tokens"] == 15
    assert chunks[-1]["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 7, "cache_write_tokens": 3}  # fmt: skip
    assert expected.endswith(b"data: [DONE]\n\n")
    assert whole.complete and whole.finish_reason == "tool_calls" and whole.model == "claude-x-1"


def test_a_stream_cut_before_message_stop_ends_with_an_error_frame() -> None:
    f = MessagesToChatStream(served_model="s", keep_usage=False)
    cut = TOOL_STREAM[: TOOL_STREAM.index(b"event: message_delta")]
    out = f.feed(cut) + f.finish()
    assert not f.complete
    assert b'"error"' in out and out.endswith(b"data: [DONE]\n\n")
