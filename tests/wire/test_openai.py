"""The chat completions validator: every field and range of seed 000, as clients send them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca_desktop.wire._chat_check import plainly_valid
from orca_desktop.wire.errors import ApiError
from orca_desktop.wire.openai import (
    ChatRequest,
    check_chat_request,
    parse_json_body,
    validate_chat_request,
    without_router_fields,
)


def make_chat_request(
    *, with_tools: bool = False, images: int = 0, streaming: bool = False, **fields: Any
) -> dict[str, Any]:
    """A valid request body; keyword fields are set (or, with value ..., removed)."""
    content: Any = "Name three uses for a router."
    if images:
        content = [{"type": "text", "text": "What is this?"}] + [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        ] * images
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are concise."},
            {"role": "user", "content": content},
        ],
    }
    if with_tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "strict": True,
                },
            }
        ]
    if streaming:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    for key, value in fields.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def with_message(message: Any) -> dict[str, Any]:
    return make_chat_request(messages=[{"role": "user", "content": "hi"}, message])


def rejection(body: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        validate_chat_request(body)
    return info.value


# --- valid requests --------------------------------------------------------------

SEED_000_EXAMPLE: dict[str, Any] = {
    "model": "orcarouter/auto",
    "messages": [
        {
            "role": "assistant",
            "content": "<string>",
            "name": "<string>",
            "tool_calls": [
                {
                    "id": "<string>",
                    "type": "function",
                    "function": {"name": "<string>", "arguments": "<string>"},
                }
            ],
            "tool_call_id": "<string>",
        }
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "<string>",
                "description": "<string>",
                "parameters": {},
                "strict": True,
            },
        }
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "response_format": {"type": "text"},
    "temperature": 1,
    "top_p": 0.5,
    "max_tokens": 2,
    "max_completion_tokens": 123,
    "n": 1,
    "stop": "<string>",
    "seed": 123,
    "logprobs": True,
    "top_logprobs": 10,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logit_bias": {},
    "user": "<string>",
    "reasoning_effort": "low",
    "extra_body": {
        "models": ["gpt-4o", "claude-3-5-sonnet", "gemini-2.5-pro"],
        "route": "fallback",
    },
}

VALID: list[tuple[str, dict[str, Any]]] = [
    ("seed 000 example", SEED_000_EXAMPLE),
    ("minimal", make_chat_request()),
    ("tools", make_chat_request(with_tools=True, tool_choice="required")),
    (
        "tool_choice object",
        make_chat_request(
            with_tools=True, tool_choice={"type": "function", "function": {"name": "get_weather"}}
        ),
    ),
    ("tool_choice none", make_chat_request(tool_choice="none")),
    (
        "tool_choice allowed_tools",
        make_chat_request(
            tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
        ),
    ),
    ("reasoning_effort minimal", make_chat_request(reasoning_effort="minimal")),
    ("reasoning_effort xhigh", make_chat_request(reasoning_effort="xhigh")),
    ("reasoning_effort none", make_chat_request(reasoning_effort="none")),
    ("image parts", make_chat_request(images=2)),
    (
        "every content part",
        make_chat_request(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://x/y.png", "detail": "low"},
                        },
                        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                        {"type": "file", "file": {"file_id": "file-1"}},
                    ],
                },
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
            ]
        ),
    ),
    (
        "tool round trip",
        make_chat_request(
            messages=[
                {"role": "developer", "content": "be nice"},
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "function", "name": "legacy", "content": None},
            ]
        ),
    ),
    ("json_object", make_chat_request(response_format={"type": "json_object"})),
    (
        "json_schema",
        make_chat_request(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
            }
        ),
    ),
    (
        "range boundaries",
        make_chat_request(
            temperature=2,
            top_p=0,
            max_tokens=1,
            max_completion_tokens=1,
            n=1,
            stop=["a", "b", "c", "d"],
            top_logprobs=20,
            presence_penalty=-2,
            frequency_penalty=2.0,
            logit_bias={"50256": -100, "1": 100},
            seed=-(2**70),
        ),
    ),
    ("explicit nulls", make_chat_request(temperature=None, tools=None, stop=None, user=None)),
    ("top-level models", make_chat_request(models=["a", "b"], route="fallback")),
    ("unknown fields", make_chat_request(store=False, metadata={"k": "v"}, verbosity="low")),
]


@pytest.mark.parametrize(("name", "body"), VALID, ids=[name for name, _ in VALID])
def test_valid_requests_pass_and_the_body_is_not_touched(name: str, body: dict[str, Any]) -> None:
    before = copy.deepcopy(body)
    request = validate_chat_request(body)
    assert isinstance(request, ChatRequest)
    assert body == before


def test_unknown_fields_are_kept_as_extras() -> None:
    request = validate_chat_request(
        make_chat_request(store=True, messages=[{"role": "user", "content": "x", "prefix": 1}])
    )
    assert request.model_extra == {"store": True}
    assert request.messages[0].model_extra == {"prefix": 1}


def test_fallbacks_join_top_level_and_extra_body_models_without_repeats() -> None:
    request = validate_chat_request(
        make_chat_request(models=["a", "gpt-4o", "b"], extra_body={"models": ["b", "c"]})
    )
    assert request.fallbacks == ("a", "b", "c")
    assert request.route_name == "fallback"
    assert validate_chat_request(make_chat_request()).route_name is None


def test_include_usage_follows_stream_options() -> None:
    assert validate_chat_request(make_chat_request(streaming=True)).include_usage
    assert not validate_chat_request(make_chat_request()).include_usage


def test_router_fields_are_removed_before_forwarding() -> None:
    body = make_chat_request(models=["a"], route="fallback", extra_body={"models": ["b"], "x": 1})
    out = without_router_fields(body)
    assert "models" not in out and "route" not in out and "extra_body" not in out
    assert out["x"] == 1 and out["messages"] == body["messages"]
    assert "models" in body  # the original is not mutated
    plain = make_chat_request()
    assert without_router_fields(plain) is plain


# --- invalid requests: (body, param, words the message must contain) ---------------------

INVALID: list[tuple[dict[str, Any], str, str]] = [
    (make_chat_request(model=...), "model", "required"),
    (make_chat_request(model=""), "model", "non-empty string"),
    (make_chat_request(model=5), "model", "non-empty string"),
    (make_chat_request(messages=...), "messages", "required"),
    (make_chat_request(messages=[]), "messages", "non-empty list"),
    (make_chat_request(messages="hi"), "messages", "non-empty list"),
    (make_chat_request(messages=["hi"]), "messages[0]", "object"),
    (with_message({"role": "bot", "content": "x"}), "messages[1].role", "'developer'"),
    (with_message({"content": "x"}), "messages[1].role", "required"),
    (with_message({"role": "user", "content": 5}), "messages[1].content", "list of content parts"),
    (with_message({"role": "user"}), "messages[1].content", "required"),
    (with_message({"role": "user", "content": None}), "messages[1].content", "required"),
    (with_message({"role": "assistant", "content": None}), "messages[1].content", "tool_calls"),
    (
        with_message({"role": "user", "content": [{"type": ""}]}),
        "messages[1].content[0].type",
        "non-empty string",
    ),
    (
        with_message({"role": "user", "content": [{"type": 5}]}),
        "messages[1].content[0].type",
        "'image_url'",
    ),
    (
        with_message({"role": "user", "content": [{"text": "x"}]}),
        "messages[1].content[0].type",
        "required",
    ),
    (with_message({"role": "user", "content": ["x"]}), "messages[1].content[0]", "content part"),
    (
        with_message({"role": "user", "content": [{"type": "text", "text": 1}]}),
        "messages[1].content[0].text",
        "string",
    ),
    (
        with_message(
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}],
            }
        ),
        "messages[1].content[0].image_url.detail",
        "'auto'",
    ),
    (with_message({"role": "user", "content": "x", "name": 3}), "messages[1].name", "string"),
    (with_message({"role": "tool", "content": "x"}), "messages[1].tool_call_id", "required"),
    (
        with_message({"role": "tool", "content": "x", "tool_call_id": 1}),
        "messages[1].tool_call_id",
        "string",
    ),
    (
        with_message(
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "1", "type": "fn", "function": {"name": "f", "arguments": "{}"}}
                ],
            }
        ),
        "messages[1].tool_calls[0].type",
        "'function'",
    ),
    (
        with_message(
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "1", "type": "function", "function": {"name": "f", "arguments": {}}}
                ],
            }
        ),
        "messages[1].tool_calls[0].function.arguments",
        "string",
    ),
    (
        with_message(
            {
                "role": "assistant",
                "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}],
            }
        ),
        "messages[1].tool_calls[0].id",
        "required",
    ),
    (with_message({"role": "function", "content": "x"}), "messages[1].name", "required"),
    (make_chat_request(stream="true"), "stream", "boolean"),
    (make_chat_request(stream=1), "stream", "boolean"),
    (make_chat_request(stream_options=True), "stream_options", "object"),
    (
        make_chat_request(stream_options={"include_usage": "yes"}),
        "stream_options.include_usage",
        "boolean",
    ),
    (make_chat_request(tools={}), "tools", "list"),
    (make_chat_request(tools=[{"type": ""}]), "tools[0].type", "'function'"),
    (make_chat_request(tools=[{"function": {"name": "f"}}]), "tools[0].type", "required"),
    (make_chat_request(tools=[{"type": "function"}]), "tools[0].function", "required"),
    (
        make_chat_request(tools=[{"type": "function", "function": {"name": ""}}]),
        "tools[0].function.name",
        "non-empty",
    ),
    (
        make_chat_request(
            tools=[{"type": "function", "function": {"name": "f", "parameters": []}}]
        ),
        "tools[0].function.parameters",
        "object",
    ),
    (
        make_chat_request(tools=[{"type": "function", "function": {"name": "f", "strict": "no"}}]),
        "tools[0].function.strict",
        "boolean",
    ),
    (make_chat_request(tool_choice="any"), "tool_choice", "'required'"),
    (make_chat_request(tool_choice=True), "tool_choice", "'auto'"),
    (
        make_chat_request(tool_choice={"type": "tool", "name": "f"}),
        "tool_choice.type",
        "'function'",
    ),
    (make_chat_request(tool_choice={"type": "function"}), "tool_choice.function", "required"),
    (
        make_chat_request(tool_choice={"type": "function", "function": {}}),
        "tool_choice.function.name",
        "required",
    ),
    (make_chat_request(parallel_tool_calls=0), "parallel_tool_calls", "boolean"),
    (make_chat_request(response_format="json"), "response_format", "object"),
    (make_chat_request(response_format={"type": "xml"}), "response_format.type", "'json_schema'"),
    (
        make_chat_request(response_format={"type": "json_schema"}),
        "response_format.json_schema",
        "required",
    ),
    (
        make_chat_request(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
        "response_format.json_schema.name",
        "required",
    ),
    (make_chat_request(temperature=3), "temperature", "between 0 and 2 (got 3)"),
    (make_chat_request(temperature=-0.1), "temperature", "between 0 and 2"),
    (make_chat_request(temperature="1"), "temperature", "between 0 and 2"),
    (make_chat_request(temperature=True), "temperature", "between 0 and 2"),
    (make_chat_request(top_p=1.5), "top_p", "between 0 and 1"),
    (make_chat_request(max_tokens=0), "max_tokens", ">= 1"),
    (make_chat_request(max_tokens=1.5), "max_tokens", "integer"),
    (make_chat_request(max_tokens="100"), "max_tokens", "integer"),
    (make_chat_request(max_completion_tokens=0), "max_completion_tokens", ">= 1"),
    (make_chat_request(n=0), "n", ">= 1"),
    (make_chat_request(stop=5), "stop", "up to 4 strings"),
    (make_chat_request(stop=["a", "b", "c", "d", "e"]), "stop", "up to 4 strings"),
    (make_chat_request(stop=["a", 1]), "stop[1]", "string"),
    (make_chat_request(seed=1.5), "seed", "integer"),
    (make_chat_request(seed="1"), "seed", "integer"),
    (make_chat_request(logprobs="true"), "logprobs", "boolean"),
    (make_chat_request(top_logprobs=21), "top_logprobs", "between 0 and 20"),
    (make_chat_request(top_logprobs=-1), "top_logprobs", "between 0 and 20"),
    (make_chat_request(presence_penalty=2.5), "presence_penalty", "between -2 and 2"),
    (make_chat_request(frequency_penalty=-3), "frequency_penalty", "between -2 and 2"),
    (make_chat_request(logit_bias=[]), "logit_bias", "token ids"),
    (make_chat_request(logit_bias={"50256": 101}), "logit_bias.50256", "-100 and 100"),
    (make_chat_request(logit_bias={"abc": 1}), "logit_bias.abc", "token id"),
    (make_chat_request(user=1), "user", "string"),
    (make_chat_request(reasoning_effort="max"), "reasoning_effort", "'xhigh'"),
    (make_chat_request(extra_body=[]), "extra_body", "object"),
    (make_chat_request(extra_body={"models": "gpt-4o"}), "extra_body.models", "list"),
    (make_chat_request(extra_body={"models": [""]}), "extra_body.models[0]", "non-empty"),
    (make_chat_request(extra_body={"route": "cheapest"}), "extra_body.route", "'fallback'"),
    (make_chat_request(models=[1]), "models[0]", "non-empty string"),
    (make_chat_request(route="random"), "route", "'fallback'"),
]


@pytest.mark.parametrize(
    ("body", "param", "words"), INVALID, ids=[f"{p}:{w}" for _, p, w in INVALID]
)
def test_invalid_field_is_a_400_naming_field_and_allowed_values(
    body: dict[str, Any], param: str, words: str
) -> None:
    error = rejection(body)
    assert error.status == 400
    assert error.type == "invalid_request_error"
    assert error.param == param
    assert error.message.startswith(f"{param}: ")
    assert words in error.message


def test_temperature_message_reads_as_documented() -> None:
    error = rejection(make_chat_request(temperature=3))
    assert error.message == "temperature: must be a number between 0 and 2 (got 3)"


def test_every_seed_field_is_validated() -> None:
    """Each top-level field of seed 000 rejects a value of the wrong type."""
    wrong: dict[str, Any] = {"stop": 5, "tool_choice": 5, "logit_bias": 5}
    for field in SEED_000_EXAMPLE:
        value = wrong.get(field, {"not": "valid"} if field not in ("logit_bias",) else 5)
        if field in ("stream_options", "response_format", "extra_body"):
            value = 5
        error = rejection({**SEED_000_EXAMPLE, field: value})
        assert error.param == field, field


@pytest.mark.parametrize("body", [None, [], "x", 1, True, [{"model": "x"}]])
def test_non_object_body_is_a_400(body: Any) -> None:
    assert rejection(body).status == 400


def test_parse_json_body_rejects_bad_json_and_non_objects() -> None:
    assert parse_json_body(b'{"model": "x"}') == {"model": "x"}
    for raw in (b"", b"{", b"[1]", b'"x"', b"\xff", b"null"):
        with pytest.raises(ApiError) as info:
            parse_json_body(raw)
        assert info.value.status == 400
        assert info.value.code == "invalid_json"
        assert info.value.message.startswith("invalid JSON body: ")


# --- hypothesis: any JSON in, only ApiError out ---------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "role", "content", "text", "name", "function", "x", "50"])
            | st.text(max_size=5),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)
fields = st.sampled_from(sorted(SEED_000_EXAMPLE) + ["models", "route", "extra"])


def outcome(body: Any) -> None:
    try:
        validate_chat_request(body)
    except ApiError as error:
        assert error.status == 400
        assert error.message


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_body_only_raises_api_error(body: Any) -> None:
    outcome(body)


@settings(max_examples=500, deadline=None)
@given(fields, json_values)
def test_any_value_in_any_field_only_raises_api_error(field: str, value: Any) -> None:
    outcome({**make_chat_request(with_tools=True), field: value})


@settings(max_examples=500, deadline=None)
@given(json_values, json_values)
def test_any_message_or_content_only_raises_api_error(message: Any, content: Any) -> None:
    outcome(make_chat_request(messages=[message]))
    outcome(make_chat_request(messages=[{"role": "user", "content": content}]))
    outcome(make_chat_request(messages=[{"role": "user", "content": [content]}]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | json_values.map(lambda v: json.dumps(v).encode()))
def test_parse_json_body_only_raises_api_error(raw: bytes) -> None:
    try:
        assert isinstance(parse_json_body(raw), dict)
    except ApiError as error:
        assert error.code == "invalid_json"


@pytest.mark.bench
def test_bench_validation_cost_per_request() -> None:
    import functools
    import timeit

    for name, body in (
        ("small", make_chat_request(streaming=True, temperature=0.7, max_tokens=256)),
        (
            "tools + 12 messages",
            make_chat_request(
                with_tools=True,
                images=1,
                messages=[
                    {"role": "user" if i % 2 else "assistant", "content": "x" * 200}
                    for i in range(12)
                ],
            ),
        ),
    ):
        n = 20000
        us = timeit.timeit(functools.partial(validate_chat_request, body), number=n) / n * 1e6
        print(f"\nvalidate_chat_request ({name}): {us:.2f} us")


# --- check_chat_request: the gateway's quick check agrees with the model -------------------

COMMON: list[dict[str, Any]] = [
    make_chat_request(),
    make_chat_request(streaming=True, temperature=0.7, max_tokens=256, user="u", seed=1),
    make_chat_request(with_tools=True, tool_choice="auto", parallel_tool_calls=False),
    make_chat_request(
        with_tools=True, tool_choice={"type": "function", "function": {"name": "get_weather"}}
    ),
    make_chat_request(images=2, stop=["\n\n"], n=1, top_p=1, reasoning_effort="low"),
    make_chat_request(response_format={"type": "json_object"}, temperature=None, stop=None),
    make_chat_request(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
        }
    ),
    make_chat_request(models=["a", "b"], route="fallback", store=False, metadata={"k": "v"}),
    make_chat_request(
        messages=[
            {"role": "developer", "content": "be nice"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ]
    ),
]


def outcome_of(check: Any, body: Any) -> tuple[Any, ...] | None:
    try:
        check(body)
    except ApiError as error:
        return (error.status, error.message, error.param, error.code, error.type)
    return None


@pytest.mark.parametrize("body", COMMON)
def test_common_requests_pass_the_quick_check_without_the_model(body: dict[str, Any]) -> None:
    before = copy.deepcopy(body)
    assert plainly_valid(body)
    check_chat_request(body)
    validate_chat_request(body)  # and the model agrees
    assert body == before


@pytest.mark.parametrize(("name", "body"), VALID, ids=[name for name, _ in VALID])
def test_check_chat_request_accepts_every_valid_request(name: str, body: dict[str, Any]) -> None:
    check_chat_request(body)


@pytest.mark.parametrize(
    ("body", "param", "words"), INVALID, ids=[f"{p}:{w}" for _, p, w in INVALID]
)
def test_check_chat_request_gives_the_models_error(
    body: dict[str, Any], param: str, words: str
) -> None:
    assert not plainly_valid(body)
    assert outcome_of(check_chat_request, body) == outcome_of(validate_chat_request, body)


def agree(body: dict[str, Any]) -> None:
    expected = outcome_of(validate_chat_request, body)
    if plainly_valid(body):
        assert expected is None, body
    assert outcome_of(check_chat_request, body) == expected


@settings(max_examples=500, deadline=None)
@given(fields, json_values)
def test_quick_check_never_passes_what_the_model_rejects_in_a_field(field: str, value: Any) -> None:
    agree({**make_chat_request(with_tools=True), field: value})
    agree({**make_chat_request(), field: value})


@settings(max_examples=500, deadline=None)
@given(json_values, json_values, st.sampled_from(["user", "assistant", "tool", "system", "x"]))
def test_quick_check_never_passes_what_the_model_rejects_in_a_message(
    message: Any, content: Any, role: str
) -> None:
    agree(make_chat_request(messages=[message]))
    agree(make_chat_request(messages=[{"role": role, "content": content}]))
    agree(make_chat_request(messages=[{"role": role, "content": [content]}]))
    agree(make_chat_request(messages=[{"role": role, "content": None, "tool_calls": content}]))
    agree(make_chat_request(messages=[{"role": role, "content": "x", "tool_call_id": content}]))
    agree(
        make_chat_request(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            **(content if isinstance(content, dict) else {"text": content}),
                        }
                    ],
                }
            ]
        )
    )
