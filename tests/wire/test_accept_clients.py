"""What the real clients send is accepted (PRODUCT.md, "What the real clients send").

Claude Code's Messages bodies (a `role: "system"` turn, possibly empty, with
`cache_control` and a message-level `output_config`; `context_management`,
`output_config`, `safeguards`, adaptive thinking with `display`, tools without
`type` and with `defer_loading`, `$schema`), opencode's and Continue's chat bodies,
unknown block, part and tool types. A role no API knows is a 400 worded as the API
words it. Replays tests/corpus/ (captured from the clients) and shapes from
shared/clients-wire.md sections 1 and 4.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca_desktop.wire._chat_check import plainly_valid
from orca_desktop.wire.anthropic import anthropic_to_openai_request, validate_messages_request
from orca_desktop.wire.errors import ApiError
from orca_desktop.wire.openai import check_chat_request, validate_chat_request

CORPUS_DIR = Path(__file__).parent.parent / "corpus"


def _captures(path: str) -> list[Path]:
    out = []
    for file in sorted(CORPUS_DIR.glob("*.json")):
        if json.loads(file.read_text(encoding="utf-8")).get("path") == path:
            out.append(file)
    return out


def _body(file: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))["body"]
    return body


MESSAGES_CAPTURES = _captures("/v1/messages")
CHAT_CAPTURES = _captures("/v1/chat/completions")

SCHEMA = "http://json-schema.org/draft-07/schema#"
ENVIRONMENT = "# Environment\nYou have been invoked in the following environment: ..."


def claude_code(**fields: Any) -> dict[str, Any]:
    """A Claude Code 2.1.332 `-p "say hi"` body (clients-wire.md section 1), shortened."""
    user_id = json.dumps({"device_id": "ab" * 32, "account_uuid": "", "session_id": "s-1"})
    body: dict[str, Any] = {
        "model": "claude-opus-5-5",
        "max_tokens": 128000,
        "stream": True,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "output_config": {"effort": "medium"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": user_id},
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332.0b8;"},
            {
                "type": "text",
                "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
                "cache_control": {"type": "ephemeral"},
            },
        ],
        "tools": [
            {
                "name": "Bash",
                "description": "Run a command",
                "input_schema": {
                    "$schema": SCHEMA,
                    "type": "object",
                    "properties": {"command": {"type": "string"}},
                    "required": ["command"],
                    "additionalProperties": False,
                },
            },
            {
                "name": "DeferredToolPlaceholder",
                "description": "placeholder",
                "input_schema": {"$schema": SCHEMA, "type": "object", "properties": {}},
                "defer_loading": True,
            },
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "<system-reminder>\nAttribution\n</system-reminder>\n",
                    },
                    {"type": "text", "text": "say hi"},
                ],
            },
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": ENVIRONMENT, "cache_control": {"type": "ephemeral"}}
                ],
                "output_config": {"effort": "medium"},
            },
        ],
    }
    body.update(fields)
    return body


SAFEGUARDS = [{"type": "dangerous_tool_use", "classifier_context": {"cwd": "/w", "rules": []}}]
SAY_HI = {"role": "user", "content": "say hi"}
EMPTY_SYSTEM_TURN = {"role": "system", "content": [], "output_config": {"effort": "medium"}}

ACCEPTED_MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("default model", claude_code()),
    ("interactive safeguards", claude_code(safeguards=SAFEGUARDS)),
    ("empty system turn", claude_code(messages=[SAY_HI, EMPTY_SYSTEM_TURN])),
    ("system turn as a string", claude_code(messages=[SAY_HI, {"role": "system", "content": "s"}])),
    ("system turn first", claude_code(messages=[{"role": "system", "content": "s"}, SAY_HI])),
    (
        "sonnet: thinking enabled with display",
        claude_code(
            model="claude-sonnet-4-5",
            max_tokens=32000,
            thinking={"type": "enabled", "budget_tokens": 31999, "display": "omitted"},
            output_config=...,
            messages=[SAY_HI],
        ),
    ),
    ("thinking keys the API adds", claude_code(thinking={"type": "adaptive", "level": 3})),
    ("effort max", claude_code(output_config={"effort": "max", "format": None})),
    (
        "server tools, an MCP toolset without name",
        claude_code(
            tools=[
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
                {"type": "mcp_toolset", "mcp_server_name": "github"},
                {"type": "custom", "name": "f", "input_schema": {"type": "object"}},
            ]
        ),
    ),
    (
        "unknown block types in every role",
        claude_code(
            messages=[
                {"role": "user", "content": [{"type": "search_result", "source": "s"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"},
                        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1"},
                        {"type": "text", "text": "found", "citations": []},
                    ],
                },
                {"role": "user", "content": "thanks"},
                {"role": "system", "content": [{"type": "future_block", "x": 1}]},
            ]
        ),
    ),
    (
        "system blocks with cache_control and unknown keys",
        claude_code(
            system=[
                {
                    "type": "text",
                    "text": "a",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    "citations": None,
                }
            ]
        ),
    ),
    (
        "empty user text (Anthropic's rule left to it)",
        claude_code(messages=[{"role": "user", "content": ""}]),
    ),
]


def _without_ellipsis(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not ...}


@pytest.mark.parametrize(
    ("name", "body"), ACCEPTED_MESSAGES, ids=[name for name, _ in ACCEPTED_MESSAGES]
)
def test_claude_code_bodies_are_accepted_and_translate_to_a_valid_chat_body(
    name: str, body: dict[str, Any]
) -> None:
    body = _without_ellipsis(body)
    before = copy.deepcopy(body)
    validate_messages_request(body)
    for reasoning in (None, True, False):
        dropped: list[str] = []
        out = anthropic_to_openai_request(body, dropped=dropped, reasoning=reasoning)
        validate_chat_request(out)
        assert len(dropped) == len(set(dropped))
    assert body == before


@pytest.mark.parametrize("path", MESSAGES_CAPTURES, ids=[p.stem for p in MESSAGES_CAPTURES])
def test_captured_messages_bodies_are_accepted(path: Path) -> None:
    body = _body(path)
    request = validate_messages_request(body)
    known = set(type(request).model_fields)
    assert set(request.model_extra or {}) == body.keys() - known  # unknown keys kept
    dropped: list[str] = []
    out = anthropic_to_openai_request(body, dropped=dropped)
    validate_chat_request(out)
    for key in body.keys() - known:
        assert key in dropped
    assert {t["function"]["name"] for t in out.get("tools", [])} == {
        t["name"] for t in body.get("tools", [])
    }
    for tool in body.get("tools", []):
        for key in tool.keys() - {"name", "description", "input_schema", "type"}:
            assert f"tools[].{key}" in dropped


def test_the_system_turn_stays_where_it_was() -> None:
    body = claude_code(
        messages=[
            {"role": "user", "content": "list files"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}],
            },
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "skills: ...", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "agents: ..."},
                ],
                "output_config": {"effort": "low"},
            },
        ]
    )
    validate_messages_request(body)
    dropped: list[str] = []
    out = anthropic_to_openai_request(body, dropped=dropped)
    assert [m["role"] for m in out["messages"]] == ["system", "user", "assistant", "tool", "system"]
    assert out["messages"][-1] == {"role": "system", "content": "skills: ...\nagents: ..."}
    assert "messages[].output_config" in dropped
    assert "tools[].defer_loading" in dropped
    # the deferred tool is still offered
    assert [t["function"]["name"] for t in out["tools"]] == ["Bash", "DeferredToolPlaceholder"]
    assert out["tools"][0]["function"]["parameters"]["$schema"] == SCHEMA


def test_an_empty_system_turn_is_left_out_without_being_named() -> None:
    body = claude_code(messages=[SAY_HI, EMPTY_SYSTEM_TURN])
    dropped: list[str] = []
    out = anthropic_to_openai_request(body, dropped=dropped)
    assert [m["role"] for m in out["messages"]] == ["system", "user"]
    assert not any("system" in name for name in dropped)


def test_what_the_translation_drops_is_named_once_each() -> None:
    body = claude_code(
        safeguards=SAFEGUARDS,
        top_k=5,
        tools=[
            *claude_code()["tools"],
            {"type": "web_search_20250305", "name": "web_search"},
            {"type": "web_search_20250305", "name": "web_search_2"},
        ],
        messages=[
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "sig"},
                    {"type": "thinking", "thinking": "hm2", "signature": "sig"},
                    {"type": "text", "text": "hi"},
                ],
            },
            {"role": "user", "content": [{"type": "search_result", "source": "s"}]},
            {"role": "system", "content": "s", "output_config": {"effort": "low"}},
            {"role": "system", "content": "t", "output_config": {"effort": "low"}},
        ],
    )
    dropped: list[str] = []
    anthropic_to_openai_request(body, dropped=dropped)
    assert sorted(dropped) == sorted(
        [
            "context_management",
            "messages[].content[search_result]",
            "messages[].content[thinking]",
            "messages[].output_config",
            "output_config",
            "safeguards",
            "tools[].defer_loading",
            "tools[web_search_20250305]",
            "top_k",
        ]
    )


def test_the_user_id_string_is_passed_on() -> None:
    body = claude_code()
    out = anthropic_to_openai_request(body)
    assert json.loads(out["user"])["session_id"] == "s-1"


# --- reasoning ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("max", "xhigh"), ("silly", None)],
)
def test_effort_becomes_reasoning_effort_for_a_reasoning_model(
    effort: str, expected: str | None
) -> None:
    for thinking in ({"type": "adaptive", "display": "omitted"}, ...):
        body = _without_ellipsis(claude_code(thinking=thinking, output_config={"effort": effort}))
        out = anthropic_to_openai_request(body, reasoning=True)
        assert out.get("reasoning_effort") == expected


def test_adaptive_thinking_sends_no_effort_unless_the_model_reasons() -> None:
    # Claude Code sends adaptive thinking and effort "high" with --model gpt-4o, and a
    # chat provider refuses reasoning_effort for a model that does not reason
    body = claude_code(model="gpt-4o", output_config={"effort": "high"})
    assert "reasoning_effort" not in anthropic_to_openai_request(body)
    dropped: list[str] = []
    assert "reasoning_effort" not in anthropic_to_openai_request(
        body, dropped=dropped, reasoning=False
    )
    assert "thinking" in dropped


@pytest.mark.parametrize(("budget", "expected"), [(1024, "low"), (8000, "medium"), (31999, "high")])
def test_enabled_thinking_keeps_the_budget_mapping(budget: int, expected: str) -> None:
    thinking = {"type": "enabled", "budget_tokens": budget, "display": "omitted"}
    body = claude_code(thinking=thinking, output_config={"effort": "low"})
    assert anthropic_to_openai_request(body)["reasoning_effort"] == expected
    assert anthropic_to_openai_request(body, reasoning=True)["reasoning_effort"] == expected
    dropped: list[str] = []
    assert "reasoning_effort" not in anthropic_to_openai_request(
        body, dropped=dropped, reasoning=False
    )
    assert "thinking" in dropped


def test_disabled_thinking_sends_no_effort() -> None:
    body = claude_code(thinking={"type": "disabled"}, output_config={"effort": "high"})
    for reasoning in (None, True, False):
        dropped: list[str] = []
        out = anthropic_to_openai_request(body, dropped=dropped, reasoning=reasoning)
        assert "reasoning_effort" not in out and "thinking" not in dropped


# --- the translator never raises on what the validator accepts ---------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "effort", "text", "name", "x"]), inner, max_size=3
        )
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["output_config", "context_management", "safeguards", "top_k", "thinking"]),
    json_values,
    st.sampled_from(["output_config", "cache_control", "name", "x"]),
    json_values,
    st.sampled_from(["defer_loading", "cache_control", "type", "strict"]),
    json_values,
    st.sampled_from([None, True, False]),
)
def test_the_translation_never_raises_on_an_accepted_body(
    top: str,
    top_value: Any,
    message_key: str,
    message_value: Any,
    tool_key: str,
    tool_value: Any,
    reasoning: bool | None,
) -> None:
    body = claude_code(**{top: top_value})
    body["messages"][1] = {**body["messages"][1], message_key: message_value}
    body["tools"][1] = {**body["tools"][1], tool_key: tool_value}
    try:
        validate_messages_request(body)
    except ApiError:
        return
    dropped: list[str] = []
    out = anthropic_to_openai_request(body, dropped=dropped, reasoning=reasoning)
    assert len(dropped) == len(set(dropped))
    assert out["messages"][-1] == {"role": "system", "content": ENVIRONMENT}


# --- a role no API knows ------------------------------------------------------------------

RECOGNISED = [  # Claude Code drops its system turn when a 400 matches one of these
    r"role .{0,2}system.{0,2} must (precede an|follow a)",
    r"use the top-level .{0,2}system.{0,2} parameter for the initial system prompt",
    r"text-only role .{0,2}system.{0,2} messages require",
    r"unknown variant .system., expected",
    r"Input should be '(user|assistant)' or '(user|assistant)'",
]


def test_a_wizard_turn_is_a_400_in_anthropics_words() -> None:
    body = claude_code(messages=[SAY_HI, {"role": "wizard", "content": "abracadabra"}])
    with pytest.raises(ApiError) as info:
        validate_messages_request(body)
    error = info.value
    assert error.status == 400 and error.param == "messages[1].role"
    assert error.message == "messages.1.role: Input should be 'user', 'assistant' or 'system'"
    body_json = json.loads(error.anthropic_body())
    assert body_json == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": error.message},
    }
    # not mistaken for a refusal of the system turn, which Claude Code would strip
    assert not any(re.search(pattern, error.message) for pattern in RECOGNISED)


def test_a_wizard_chat_message_is_a_400_naming_the_role_and_the_allowed_ones() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "wizard"}]}
    for check in (validate_chat_request, check_chat_request):
        with pytest.raises(ApiError) as info:
            check(body)
        assert info.value.status == 400 and info.value.param == "messages[1].role"
        assert info.value.message == (
            "messages[1].role: must be one of 'system', 'developer', 'user', 'assistant', "
            """'tool', 'function' (got "wizard")"""
        )


# --- chat completions: opencode, Continue, unknown parts and tools -----------------------


def opencode_title() -> dict[str, Any]:
    """opencode 1.18.33's title request: two consecutive user messages."""
    return {
        "model": "orca/capture-model",
        "max_tokens": 32000,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "You are a title generator..."},
            {"role": "user", "content": "Generate a title for this conversation:\n"},
            {"role": "user", "content": '"say hi"'},
        ],
    }


def continue_cli() -> dict[str, Any]:
    """Continue CLI 1.5.47: no max_tokens, no tool_choice, tools."""
    return {
        "model": "capture-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "You are an agent..."},
            {"role": "user", "content": "say hi"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "Read",
                    "description": "Read a file",
                    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
                },
            }
        ],
    }


def with_unknowns(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["messages"].append(
        {
            "role": "developer",
            "content": [
                {"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}},
                {"type": "input_video", "video": {"url": "https://x/v.mp4"}},
            ],
            "reasoning_content": "hm",
        }
    )
    body.setdefault("tools", []).extend(
        [
            {"type": "web_search", "search_context_size": "low"},
            {"type": "function", "function": {"name": "g"}, "cache_control": {}},
        ]
    )
    return body


CHAT_ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("opencode title", opencode_title()),
    ("continue", continue_cli()),
    ("opencode + unknown parts, tools and keys", with_unknowns(opencode_title())),
    ("continue + unknown parts, tools and keys", with_unknowns(continue_cli())),
]


@pytest.mark.parametrize(("name", "body"), CHAT_ACCEPTED, ids=[name for name, _ in CHAT_ACCEPTED])
def test_chat_bodies_of_the_clients_are_accepted(name: str, body: dict[str, Any]) -> None:
    before = copy.deepcopy(body)
    validate_chat_request(body)
    check_chat_request(body)
    assert body == before


@pytest.mark.parametrize("path", CHAT_CAPTURES, ids=[p.stem for p in CHAT_CAPTURES])
def test_captured_chat_bodies_are_accepted(path: Path) -> None:
    body = _body(path)
    validate_chat_request(body)
    check_chat_request(body)
    validate_chat_request(with_unknowns(body))


def test_unknown_parts_and_tools_are_kept_as_sent() -> None:
    request = validate_chat_request(with_unknowns(continue_cli()))
    part = request.messages[-1].content[1]  # type: ignore[index]
    assert part.type == "input_video" and part.model_extra == {"video": {"url": "https://x/v.mp4"}}
    tool = (request.tools or [])[1]
    assert tool.type == "web_search" and tool.model_extra == {"search_context_size": "low"}


def test_the_quick_check_leaves_unknown_types_to_the_model() -> None:
    body = with_unknowns(continue_cli())
    assert not plainly_valid(body)  # it never guesses; the model accepts
    validate_chat_request(body)


KNOWN_STILL_CHECKED: list[tuple[dict[str, Any], str]] = [
    ({"type": "image_url", "image_url": {"url": 5}}, "messages[0].content[0].image_url.url"),
    ({"type": "text"}, "messages[0].content[0].text"),
    ({"type": ""}, "messages[0].content[0].type"),
    ({"type": 7}, "messages[0].content[0].type"),
    ({"text": "no type"}, "messages[0].content[0].type"),
]


@pytest.mark.parametrize(
    ("part", "param"), KNOWN_STILL_CHECKED, ids=[p for _, p in KNOWN_STILL_CHECKED]
)
def test_known_part_types_are_still_checked(part: dict[str, Any], param: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": [part]}]}
    with pytest.raises(ApiError) as info:
        validate_chat_request(body)
    assert info.value.param == param
    assert not plainly_valid(body)


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"type": "function"}, "tools[0].function"),
        ({"type": "function", "function": {"name": ""}}, "tools[0].function.name"),
        ({"type": "custom", "custom": {}}, "tools[0].custom.name"),
        ({"type": ""}, "tools[0].type"),
        ({"function": {"name": "f"}}, "tools[0].type"),
    ],
)
def test_known_tool_types_are_still_checked(tool: dict[str, Any], param: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    with pytest.raises(ApiError) as info:
        validate_chat_request(body)
    assert info.value.param == param
    assert not plainly_valid(body)
