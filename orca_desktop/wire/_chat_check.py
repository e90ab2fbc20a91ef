"""A quick yes for chat completions bodies of the usual shapes, before pydantic.

Owns `plainly_valid(body)`: True only for bodies that `ChatRequest` certainly
accepts (text, image and tool-call messages; function tools; the common
options within their ranges). It never says why something is wrong: False
means "ask the pydantic model", which accepts it or words the 400. So every
invalid field still gets the same specific error, and the hot path skips
building a model object that the gateway would throw away (issue #5).

Rules mirror `wire/openai.py` under strict mode: bool is not an int, an int is
a float, explicit nulls are allowed wherever a field is optional. Anything this
module does not recognise returns False rather than guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# tuples, not sets: `x in tuple` compares by equality, so an unhashable value sent
# where a string belongs (a list as "role") is a plain "no", not a TypeError
_TEXT_ROLES = ("user", "assistant", "system", "developer")
_TOOL_CHOICES = ("auto", "none", "required")
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_DETAILS = (None, "auto", "low", "high")
_PLAIN_FORMATS = ("text", "json_object")


def plainly_valid(body: dict[str, Any]) -> bool:
    """True when `ChatRequest.model_validate(body)` would certainly succeed."""
    model = body.get("model")
    if type(model) is not str or not model:
        return False
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        return False
    for message in messages:
        if not _message_ok(message):
            return False
    for key, value in body.items():
        check = _FIELD_CHECKS.get(key)
        if check is not None and value is not None and not check(value):
            return False
    return True


# --- scalars ------------------------------------------------------------------------


def _str(value: Any) -> bool:
    return type(value) is str


def _non_empty_str(value: Any) -> bool:
    return type(value) is str and value != ""


def _bool(value: Any) -> bool:
    return type(value) is bool


def _int(value: Any) -> bool:
    return type(value) is int


def _positive(value: Any) -> bool:
    return type(value) is int and value >= 1


def _between(low: float, high: float) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        # NaN and the infinities fail the comparison and go to pydantic
        return (type(value) is float or type(value) is int) and low <= value <= high

    return check


def _optional(value: Any, check: Callable[[Any], bool]) -> bool:
    return value is None or check(value)


# --- messages -------------------------------------------------------------------------


def _message_ok(message: Any) -> bool:
    if type(message) is not dict:
        return False
    role = message.get("role")
    content = message.get("content")
    if type(content) is str:
        pass
    elif type(content) is list:
        if not all(_part_ok(part) for part in content):
            return False
    elif content is None:
        # the model's rule: null content only for an assistant message with tool calls
        if role != "assistant" or not message.get("tool_calls"):
            return False
    else:
        return False
    if role == "tool":
        if type(message.get("tool_call_id")) is not str:
            return False
    elif role not in _TEXT_ROLES:
        return False
    tool_calls = message.get("tool_calls")
    if tool_calls is not None and (
        type(tool_calls) is not list or not all(_tool_call_ok(c) for c in tool_calls)
    ):
        return False
    return _optional(message.get("name"), _str) and _optional(message.get("tool_call_id"), _str)


def _part_ok(part: Any) -> bool:
    if type(part) is not dict:
        return False
    kind = part.get("type")
    if kind == "text":
        return type(part.get("text")) is str
    if kind == "image_url":
        image = part.get("image_url")
        return (
            type(image) is dict
            and type(image.get("url")) is str
            and image.get("detail") in _DETAILS
        )
    return False


def _tool_call_ok(call: Any) -> bool:
    if type(call) is not dict or call.get("type") != "function" or type(call.get("id")) is not str:
        return False
    function = call.get("function")
    return (
        type(function) is dict
        and type(function.get("name")) is str
        and type(function.get("arguments")) is str
    )


# --- top-level fields -------------------------------------------------------------------


def _stream_options_ok(value: Any) -> bool:
    return type(value) is dict and _optional(value.get("include_usage"), _bool)


def _tools_ok(value: Any) -> bool:
    return type(value) is list and all(_tool_ok(tool) for tool in value)


def _tool_ok(tool: Any) -> bool:
    if type(tool) is not dict or tool.get("type") != "function":
        return False
    function = tool.get("function")
    return (
        type(function) is dict
        and _non_empty_str(function.get("name"))
        and _optional(function.get("description"), _str)
        and _optional(function.get("parameters"), _dict)
        and _optional(function.get("strict"), _bool)
    )


def _dict(value: Any) -> bool:
    return type(value) is dict


def _tool_choice_ok(value: Any) -> bool:
    if type(value) is str:
        return value in _TOOL_CHOICES
    if type(value) is not dict or value.get("type") != "function":
        return False
    function = value.get("function")
    return type(function) is dict and _non_empty_str(function.get("name"))


def _response_format_ok(value: Any) -> bool:
    if type(value) is not dict:
        return False
    kind = value.get("type")
    if kind in _PLAIN_FORMATS:
        return True
    if kind != "json_schema":
        return False
    spec = value.get("json_schema")
    return (
        type(spec) is dict
        and _non_empty_str(spec.get("name"))
        and _optional(spec.get("description"), _str)
        and _optional(spec.get("schema"), _dict)
        and _optional(spec.get("strict"), _bool)
    )


def _stop_ok(value: Any) -> bool:
    if type(value) is str:
        return True
    return type(value) is list and len(value) <= 4 and all(type(s) is str for s in value)


def _models_ok(value: Any) -> bool:
    return type(value) is list and all(_non_empty_str(name) for name in value)


def _unchecked(value: Any) -> bool:
    """Fields left to pydantic whenever they are present (rare on the hot path)."""
    return False


_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "stream": _bool,
    "stream_options": _stream_options_ok,
    "tools": _tools_ok,
    "tool_choice": _tool_choice_ok,
    "parallel_tool_calls": _bool,
    "response_format": _response_format_ok,
    "temperature": _between(0, 2),
    "top_p": _between(0, 1),
    "max_tokens": _positive,
    "max_completion_tokens": _positive,
    "n": _positive,
    "stop": _stop_ok,
    "seed": _int,
    "logprobs": _bool,
    "top_logprobs": lambda v: type(v) is int and 0 <= v <= 20,
    "presence_penalty": _between(-2, 2),
    "frequency_penalty": _between(-2, 2),
    "logit_bias": _unchecked,
    "user": _str,
    "reasoning_effort": lambda v: type(v) is str and v in _EFFORTS,
    "extra_body": _unchecked,
    "models": _models_ok,
    "route": lambda v: v == "fallback",
}
