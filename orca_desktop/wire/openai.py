"""The OpenAI chat completions request as it crosses HTTP: parse, validate, describe.

Owns `ChatRequest` (every field and range of the OrcaRouter contract, seed 000),
`validate_chat_request`, `parse_json_body` and `without_router_fields`.
Validation accepts values as real clients send them (tool_choice object form,
reasoning_effort none/minimal/xhigh, `models`/`route` nested under `extra_body` or at
the top level) and keeps unknown fields (`extra="allow"`): the gateway forwards the
client's original dict, not this model.

Never raises anything but `ApiError` for client input, never does I/O, and never
mutates the body it is given.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orca_desktop.wire._chat_check import plainly_valid
from orca_desktop.wire.errors import ApiError, error_from_validation

__all__ = [
    "ChatRequest",
    "Message",
    "check_chat_request",
    "parse_json_body",
    "validate_chat_request",
    "without_router_fields",
]


class WireModel(BaseModel):
    """Inbound wire object (shared by wire/anthropic.py): strict types (no "1" for 1,
    no 1 for true), unknown fields kept."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


# Union branches are chosen by a callable discriminator whose tags start with "~":
# only the branch matching the input's shape reports errors, and the tag is left
# out of the field path shown to the client (see errors.field_path).


def shape_tag(value: Any) -> str:
    """Union tag by JSON shape: "~str", "~list", "~dict" or "~other"."""
    if isinstance(value, str):
        return "~str"
    if isinstance(value, list):
        return "~list"
    if isinstance(value, dict):
        return "~dict"
    return "~other"


def _typed(known: frozenset[str]) -> Any:
    """Discriminator for objects tagged by their "type" key; unknown types go to "~unknown"."""

    def tag(value: Any) -> str:
        if isinstance(value, str):
            return "~str"
        if not isinstance(value, dict):
            return "~other"
        kind = value.get("type")
        if isinstance(kind, str) and kind in known:
            return "~" + kind
        return "~unknown"

    return Discriminator(tag)


NonEmptyStr = Annotated[str, Field(min_length=1)]

# --- message content ---------------------------------------------------------

_PART_TYPES = ("text", "image_url", "input_audio", "file", "refusal")


class TextPart(WireModel):
    type: Literal["text"]
    text: str


class ImageUrl(WireModel):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageUrlPart(WireModel):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudio(WireModel):
    data: str
    format: str


class InputAudioPart(WireModel):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FileRef(WireModel):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(WireModel):
    type: Literal["file"]
    file: FileRef


class RefusalPart(WireModel):
    type: Literal["refusal"]
    refusal: str


class OtherPart(WireModel):
    """A part type we do not know (a provider's or a newer API's): kept as sent, for
    a native provider to decide; a translation drops it and names it."""

    type: NonEmptyStr


ContentPart = Annotated[
    Annotated[TextPart, Tag("~text")]
    | Annotated[ImageUrlPart, Tag("~image_url")]
    | Annotated[InputAudioPart, Tag("~input_audio")]
    | Annotated[FilePart, Tag("~file")]
    | Annotated[RefusalPart, Tag("~refusal")]
    | Annotated[OtherPart, Tag("~unknown")],
    _typed(frozenset(_PART_TYPES)),
]

Content = Annotated[
    Annotated[str, Tag("~str")] | Annotated[list[ContentPart], Tag("~list")],
    Discriminator(shape_tag),
]

# --- tool calls in assistant messages ------------------------------------------


class FunctionCall(WireModel):
    name: str
    arguments: str


class FunctionToolCall(WireModel):
    id: str
    type: Literal["function"]
    function: FunctionCall


class CustomCall(WireModel):
    name: str
    input: str


class CustomToolCall(WireModel):
    id: str
    type: Literal["custom"]
    custom: CustomCall


class _UnknownToolCall(WireModel):
    type: Literal["function", "custom"]


ToolCall = Annotated[
    Annotated[FunctionToolCall, Tag("~function")]
    | Annotated[CustomToolCall, Tag("~custom")]
    | Annotated[_UnknownToolCall, Tag("~unknown")],
    _typed(frozenset(("function", "custom"))),
]

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


def _rule(field: str, rule: str) -> PydanticCustomError:
    return PydanticCustomError("field_rule", "{rule}", {"field": field, "rule": rule})


class Message(WireModel):
    """One chat message. Cross-field rules: a tool message needs `tool_call_id`;
    content may be null only for an assistant message with tool calls (or a
    function message)."""

    role: Role
    content: Content | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _role_rules(self) -> Message:
        role = self.role
        if role == "tool" and self.tool_call_id is None:
            raise _rule("tool_call_id", "is required for a tool message (a string)")
        if self.content is None and role != "function":
            extra = self.__pydantic_extra__ or {}
            if role != "assistant" or (
                self.tool_calls is None and extra.get("function_call") is None
            ):
                raise _rule(
                    "content",
                    "is required: a string or a list of content parts "
                    "(null only for an assistant message with tool_calls)",
                )
        if role == "function" and self.name is None:
            raise _rule("name", "is required for a function message (a string)")
        return self


# --- tools and tool_choice -----------------------------------------------------


class FunctionDef(WireModel):
    name: NonEmptyStr
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(WireModel):
    type: Literal["function"]
    function: FunctionDef


class CustomDef(WireModel):
    name: NonEmptyStr
    description: str | None = None
    format: dict[str, Any] | None = None


class CustomTool(WireModel):
    type: Literal["custom"]
    custom: CustomDef


class OtherTool(WireModel):
    """A tool type we do not know (web_search, a provider's built-in tools): kept as
    sent, for a native provider to decide; a translation drops it and names it."""

    type: NonEmptyStr


Tool = Annotated[
    Annotated[FunctionTool, Tag("~function")]
    | Annotated[CustomTool, Tag("~custom")]
    | Annotated[OtherTool, Tag("~unknown")],
    _typed(frozenset(("function", "custom"))),
]


class NamedFunction(WireModel):
    name: NonEmptyStr


class FunctionChoice(WireModel):
    type: Literal["function"]
    function: NamedFunction


class CustomChoice(WireModel):
    type: Literal["custom"]
    custom: NamedFunction


class AllowedToolsChoice(WireModel):
    type: Literal["allowed_tools"]
    allowed_tools: dict[str, Any]


class _UnknownChoice(WireModel):
    type: Literal["function", "custom", "allowed_tools"]


ToolChoice = Annotated[
    Annotated[Literal["auto", "none", "required"], Tag("~str")]
    | Annotated[FunctionChoice, Tag("~function")]
    | Annotated[CustomChoice, Tag("~custom")]
    | Annotated[AllowedToolsChoice, Tag("~allowed_tools")]
    | Annotated[_UnknownChoice, Tag("~unknown")],
    _typed(frozenset(("function", "custom", "allowed_tools"))),
]

# --- response_format, stream_options, routing extensions ----------------------------


class TextFormat(WireModel):
    type: Literal["text"]


class JsonObjectFormat(WireModel):
    type: Literal["json_object"]


class JsonSchemaSpec(WireModel):
    name: NonEmptyStr
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class JsonSchemaFormat(WireModel):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


class _UnknownFormat(WireModel):
    type: Literal["text", "json_object", "json_schema"]


ResponseFormat = Annotated[
    Annotated[TextFormat, Tag("~text")]
    | Annotated[JsonObjectFormat, Tag("~json_object")]
    | Annotated[JsonSchemaFormat, Tag("~json_schema")]
    | Annotated[_UnknownFormat, Tag("~unknown")],
    _typed(frozenset(("text", "json_object", "json_schema"))),
]


class StreamOptions(WireModel):
    include_usage: bool | None = None


Route = Literal["fallback"]


class ExtraBody(WireModel):
    models: list[NonEmptyStr] | None = None
    route: Route | None = None


Stop = Annotated[
    Annotated[str, Tag("~str")] | Annotated[list[str], Field(max_length=4), Tag("~list")],
    Discriminator(shape_tag),
]

Temperature = Annotated[float, Field(ge=0, le=2)]
Unit = Annotated[float, Field(ge=0, le=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]
Positive = Annotated[int, Field(ge=1)]
TokenId = Annotated[str, Field(pattern=r"^[0-9]+$")]
Bias = Annotated[float, Field(ge=-100, le=100)]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class ChatRequest(WireModel):
    """A validated chat completions request (unknown fields kept as extras).

    Optional fields accept an explicit null, as the SDKs send it.
    """

    model: NonEmptyStr
    messages: Annotated[list[Message], Field(min_length=1)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    temperature: Temperature | None = None
    top_p: Unit | None = None
    max_tokens: Positive | None = None
    max_completion_tokens: Positive | None = None
    n: Positive | None = None
    stop: Stop | None = None
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[TokenId, Bias] | None = None
    user: str | None = None
    reasoning_effort: ReasoningEffort | None = None
    extra_body: ExtraBody | None = None
    models: list[NonEmptyStr] | None = None
    route: Route | None = None

    @property
    def include_usage(self) -> bool:
        """The client asked for the usage frame (`stream_options.include_usage`)."""
        return bool(self.stream_options is not None and self.stream_options.include_usage)

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """Models to try after `model`: top-level `models`, then `extra_body.models`,
        in order, without repeats and without `model` itself."""
        seen = {self.model}
        out: list[str] = []
        nested = self.extra_body.models if self.extra_body is not None else None
        for names in (self.models, nested):
            for name in names or ():
                if name not in seen:
                    seen.add(name)
                    out.append(name)
        return tuple(out)

    @property
    def route_name(self) -> str | None:
        """The requested route: explicit (top level wins), `fallback` when models
        were given, else None."""
        if self.route is not None:
            return self.route
        if self.extra_body is not None and self.extra_body.route is not None:
            return self.extra_body.route
        return "fallback" if self.fallbacks else None


_TOOL_CHOICE = (
    "'auto', 'none', 'required' or an object such as "
    '{"type": "function", "function": {"name": "..."}}'
)
_PARTS = "a non-empty string such as " + ", ".join(repr(t) for t in _PART_TYPES)

# What each field accepts, by field pattern ("[]" stands for any index, "*" for any key).
ALLOWED: dict[str, str] = {
    "": "a JSON object",
    "model": "a non-empty string",
    "messages": "a non-empty list of messages",
    "messages[]": 'an object such as {"role": "user", "content": "..."}',
    "messages[].role": "one of 'system', 'developer', 'user', 'assistant', 'tool', 'function'",
    "messages[].content": "a string, a list of content parts, or null (assistant with tool_calls)",
    "messages[].content[]": 'a content part object such as {"type": "text", "text": "..."}',
    "messages[].content[].type": _PARTS,
    "messages[].content[].text": "a string",
    "messages[].content[].refusal": "a string",
    "messages[].content[].image_url": 'an object such as {"url": "https://..."}',
    "messages[].content[].image_url.url": "a string (URL or data URL)",
    "messages[].content[].image_url.detail": "one of 'auto', 'low', 'high'",
    "messages[].content[].input_audio": 'an object {"data": "<base64>", "format": "wav"}',
    "messages[].content[].input_audio.data": "a base64 string",
    "messages[].content[].input_audio.format": "a string such as 'wav' or 'mp3'",
    "messages[].content[].file": 'an object with "file_data", "file_id" or "filename"',
    "messages[].content[].file.file_data": "a string",
    "messages[].content[].file.file_id": "a string",
    "messages[].content[].file.filename": "a string",
    "messages[].name": "a string",
    "messages[].tool_call_id": "a string",
    "messages[].tool_calls": "a list of tool calls",
    "messages[].tool_calls[]": (
        'an object such as {"id": "...", "type": "function", '
        '"function": {"name": "...", "arguments": "{}"}}'
    ),
    "messages[].tool_calls[].type": "one of 'function', 'custom'",
    "messages[].tool_calls[].id": "a string",
    "messages[].tool_calls[].function": 'an object {"name": "...", "arguments": "..."}',
    "messages[].tool_calls[].function.name": "a string",
    "messages[].tool_calls[].function.arguments": "a string (JSON-encoded arguments)",
    "messages[].tool_calls[].custom": 'an object {"name": "...", "input": "..."}',
    "messages[].tool_calls[].custom.name": "a string",
    "messages[].tool_calls[].custom.input": "a string",
    "stream": "a boolean",
    "stream_options": 'an object such as {"include_usage": true}',
    "stream_options.include_usage": "a boolean",
    "tools": "a list of tools",
    "tools[]": 'an object such as {"type": "function", "function": {"name": "..."}}',
    "tools[].type": "a non-empty string such as 'function' or 'custom'",
    "tools[].function": 'an object such as {"name": "...", "parameters": {...}}',
    "tools[].function.name": "a non-empty string",
    "tools[].function.description": "a string",
    "tools[].function.parameters": "an object (JSON Schema)",
    "tools[].function.strict": "a boolean",
    "tools[].custom": 'an object such as {"name": "..."}',
    "tools[].custom.name": "a non-empty string",
    "tools[].custom.description": "a string",
    "tools[].custom.format": "an object",
    "tool_choice": _TOOL_CHOICE,
    "tool_choice.type": "one of 'function', 'custom', 'allowed_tools'",
    "tool_choice.function": 'an object {"name": "..."}',
    "tool_choice.function.name": "a non-empty string",
    "tool_choice.custom": 'an object {"name": "..."}',
    "tool_choice.custom.name": "a non-empty string",
    "tool_choice.allowed_tools": "an object",
    "parallel_tool_calls": "a boolean",
    "response_format": 'an object such as {"type": "json_object"}',
    "response_format.type": "one of 'text', 'json_object', 'json_schema'",
    "response_format.json_schema": 'an object such as {"name": "...", "schema": {...}}',
    "response_format.json_schema.name": "a non-empty string",
    "response_format.json_schema.description": "a string",
    "response_format.json_schema.schema": "an object (JSON Schema)",
    "response_format.json_schema.strict": "a boolean",
    "temperature": "a number between 0 and 2",
    "top_p": "a number between 0 and 1",
    "max_tokens": "an integer >= 1",
    "max_completion_tokens": "an integer >= 1",
    "n": "an integer >= 1",
    "stop": "a string or a list of up to 4 strings",
    "stop[]": "a string",
    "seed": "an integer",
    "logprobs": "a boolean",
    "top_logprobs": "an integer between 0 and 20",
    "presence_penalty": "a number between -2 and 2",
    "frequency_penalty": "a number between -2 and 2",
    "logit_bias": "an object mapping token ids to numbers between -100 and 100",
    "logit_bias.*": "a token id (digits) mapped to a number between -100 and 100",
    "user": "a string",
    "reasoning_effort": "one of 'none', 'minimal', 'low', 'medium', 'high', 'xhigh'",
    "extra_body": 'an object such as {"models": ["..."], "route": "fallback"}',
    "extra_body.models": "a list of non-empty model id strings",
    "extra_body.models[]": "a non-empty string",
    "extra_body.route": "'fallback'",
    "models": "a list of non-empty model id strings",
    "models[]": "a non-empty string",
    "route": "'fallback'",
}


def validate_chat_request(body: Any) -> ChatRequest:
    """Validate a decoded chat completions body.

    Raises `ApiError(400)` whose message names the field path and what it allows,
    e.g. "temperature: must be a number between 0 and 2 (got 3)", param="temperature".
    """
    if not isinstance(body, dict):
        raise ApiError(
            400,
            f"request body must be a JSON object (got {type(body).__name__})",
            code="invalid_value",
        )
    try:
        return ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise error_from_validation(exc, ALLOWED) from None


def check_chat_request(body: dict[str, Any]) -> None:
    """Raise `ApiError(400)` exactly as `validate_chat_request` would, or return.

    The gateway's check: bodies of the usual shapes pass a quick structural test
    (`_chat_check.plainly_valid`); only the rest are built into a `ChatRequest`,
    which words any error. The gateway forwards the dict, so it needs no model.
    """
    if not plainly_valid(body):
        validate_chat_request(body)


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object.

    Raises `ApiError(400, "invalid JSON body: ...", code="invalid_json")`.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"invalid JSON body: {exc}", code="invalid_json") from None
    if not isinstance(value, dict):
        kind = "array" if isinstance(value, list) else type(value).__name__
        raise ApiError(
            400, f"invalid JSON body: expected an object, got {kind}", code="invalid_json"
        )
    return value


_ROUTER_FIELDS = ("models", "route", "extra_body")


def without_router_fields(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of `body` fit to forward upstream: our `models`/`route` keys removed
    (top level and under `extra_body`); any other `extra_body` keys are merged into
    the top level, as the OpenAI SDKs do, without overriding existing keys.
    Returns `body` itself when there is nothing to remove."""
    if not any(key in body for key in _ROUTER_FIELDS):
        return body
    out = {k: v for k, v in body.items() if k not in _ROUTER_FIELDS}
    nested = body.get("extra_body")
    if isinstance(nested, dict):
        for key, value in nested.items():
            if key not in ("models", "route") and key not in out:
                out[key] = value
    return out
