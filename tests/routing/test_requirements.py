"""Requirements read from raw request bodies."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orca_desktop.routing import Requirements, requirements_of
from tests.routing.factories import make_body

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"messages": []}, (False, False, False, False)),
        ({"tools": [{"type": "function"}]}, (True, False, False, False)),
        ({"tools": []}, (False, False, False, False)),
        ({"functions": [{"name": "f"}]}, (True, False, False, False)),
        ({"messages": [{"role": "user", "content": [IMAGE]}]}, (False, True, False, False)),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
            (False, False, False, False),
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {}}},
            (False, False, True, False),
        ),
        ({"response_format": {"type": "json_object"}}, (False, False, False, False)),
        ({"reasoning_effort": "low"}, (False, False, False, True)),
        ({"reasoning_effort": "minimal"}, (False, False, False, True)),
        ({"reasoning_effort": "xhigh"}, (False, False, False, True)),
        ({"reasoning_effort": "none"}, (False, False, False, False)),
        ({"reasoning_effort": None}, (False, False, False, False)),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, (False, False, False, True)),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
            (False, True, False, False),
        ),
    ],
)
def test_capabilities_come_from_the_body(
    body: dict[str, Any], expected: tuple[bool, bool, bool, bool]
) -> None:
    req = requirements_of(body)
    assert (req.tools, req.vision, req.json_schema, req.reasoning) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, None),
        ({"max_tokens": 100}, 100),
        ({"max_completion_tokens": 200, "max_tokens": 100}, 200),
        ({"max_completion_tokens": None, "max_tokens": 100}, 100),
        ({"max_tokens": True}, None),
        ({"max_tokens": "100"}, None),
        ({"max_tokens": 0}, None),
    ],
)
def test_max_output_tokens_prefers_max_completion_tokens(
    body: dict[str, Any], expected: int | None
) -> None:
    assert requirements_of(body).max_output_tokens == expected


def test_prompt_tokens_grow_with_text_images_and_tools() -> None:
    small = requirements_of(make_body(text="hi")).prompt_tokens
    assert requirements_of(make_body(text="hi " * 1000)).prompt_tokens > small + 700
    assert requirements_of(make_body(text="hi", images=1)).prompt_tokens > small + 500
    assert requirements_of(make_body(text="hi", tools=True)).prompt_tokens > small


def test_needed_context_and_mask() -> None:
    req = Requirements(True, False, True, False, prompt_tokens=100, max_output_tokens=50)
    assert req.needed_context == 150
    assert req.capability_mask == 1 | 4


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
body_keys = st.sampled_from(
    [
        "messages",
        "tools",
        "functions",
        "response_format",
        "reasoning_effort",
        "thinking",
        "max_tokens",
        "max_completion_tokens",
        "system",
        "model",
    ]
)


@given(st.dictionaries(body_keys, json_values, max_size=6))
def test_any_json_body_gives_requirements_without_raising(body: dict[str, Any]) -> None:
    req = requirements_of(body)
    assert req.prompt_tokens >= 0
    assert req.max_output_tokens is None or req.max_output_tokens > 0


@given(
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "system", "assistant"]), "content": json_values}
        ),
        max_size=5,
    )
)
def test_messages_of_any_shape_are_estimated(messages: list[dict[str, Any]]) -> None:
    assert requirements_of({"messages": messages}).prompt_tokens >= 3


class CountedList(list[Any]):
    """A messages list that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Any:
        CountedList.walks += 1
        return super().__iter__()


def test_the_prompt_is_scanned_only_when_vision_or_tokens_are_read() -> None:
    CountedList.walks = 0
    body = {"messages": CountedList([{"role": "user", "content": "hi"}]), "max_tokens": 9}
    raw = orjson.dumps(body)
    req = requirements_of(body, raw=raw)
    assert (req.tools, req.json_schema, req.reasoning, req.max_output_tokens) == (
        False,
        False,
        False,
        9,
    )
    assert req.vision is False  # the JSON text names no image
    assert req.prompt_tokens_at_most >= 3
    assert CountedList.walks == 0
    assert (
        req.prompt_tokens
        == requirements_of({"messages": [{"role": "user", "content": "hi"}]}).prompt_tokens
    )
    assert CountedList.walks == 1
    assert req.prompt_tokens_at_most == req.prompt_tokens  # known now


def _texts_of(body: dict[str, Any]) -> list[bytes]:
    """The JSON texts a client may send for `body`: compact, ASCII-escaped, spaced."""
    return [
        orjson.dumps(body),
        json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode(),
        json.dumps(body, ensure_ascii=False, indent=1).encode(),
    ]


def _check_raw_answers(body: dict[str, Any], raw: bytes) -> None:
    scanned = requirements_of(body)
    quick = requirements_of(body, raw=raw)
    assert quick.vision == scanned.vision
    bound = requirements_of(body, raw=raw).prompt_tokens_at_most
    assert scanned.prompt_tokens <= bound
    assert quick == scanned


int64 = st.integers(-(2**63), 2**63 - 1)  # orjson reads no larger integer
wire_values = st.recursive(
    st.none()
    | st.booleans()
    | int64
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
message_parts = st.one_of(
    st.text(max_size=20),
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=30)}),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["image_url", "image", "input_image"]), "image_url": st.just({})}
    ),
    st.just({"type": "image"}),
    st.fixed_dictionaries(
        {
            "type": st.just("tool_result"),
            "content": st.lists(st.just({"type": "image"}), max_size=2),
        }
    ),
    st.dictionaries(
        st.text(max_size=5),
        int64 | st.floats(allow_nan=False, allow_infinity=False),
        max_size=3,
    ),
)
prompt_messages = st.lists(
    st.one_of(
        st.just({}),
        st.fixed_dictionaries(
            {
                "role": st.just("user"),
                "content": st.text(max_size=40) | st.lists(message_parts, max_size=4),
            }
        ),
        st.fixed_dictionaries(
            {
                "role": st.just("assistant"),
                "tool_calls": st.lists(wire_values, max_size=2),
                "name": st.text(max_size=5),
            }
        ),
    ),
    max_size=6,
)


@given(
    prompt_messages,
    st.lists(st.floats(allow_nan=False, allow_infinity=False) | int64, max_size=5),
    st.one_of(st.none(), st.text(max_size=20), st.lists(message_parts, max_size=3)),
)
def test_the_json_text_gives_the_same_vision_and_a_bound_on_tokens(
    messages: list[Any], numbers: list[Any], system: Any
) -> None:
    body: dict[str, Any] = {"messages": messages}
    if numbers:
        body["tools"] = [{"type": "function", "function": {"parameters": {"enum": numbers}}}]
    if system is not None:
        body["system"] = system
    for raw in _texts_of(body):
        _check_raw_answers(body, raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"messages":[{},{},{}]}',  # message overhead: 4 tokens for 2 bytes
        b'{"messages":[{"content":[{"type":"image"},{"type":"image"}]}]}',
        b'{"messages":[{"content":[{"type":"\\u0069mage"}]}]}',  # an escaped image type
        b'{"tools":[1e15,9e15,1e15,1e5,1e5]}',  # numbers that orjson writes longer
        b'{"messages":[{"content":",,,,::::{{{{\\"\\"\\""}]}',  # dense punctuation
        b'{"system":[{"type":"image"}],"messages":[{"content":"\\ud800\\udfff"}]}',
    ],
)
def test_worst_case_texts_stay_within_the_bound(raw: bytes) -> None:
    _check_raw_answers(orjson.loads(raw), raw)
