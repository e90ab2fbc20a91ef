"""Requirements read from raw request bodies."""

from __future__ import annotations

from typing import Any

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
