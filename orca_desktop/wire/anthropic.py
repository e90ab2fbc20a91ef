"""The Anthropic Messages API as it crosses HTTP: validation and translation to/from OpenAI.

Owns `MessagesRequest` / `validate_messages_request` (the inbound `/v1/messages`
body, unknown fields and unknown content block types kept, since Anthropic adds
betas faster than we can list them), `anthropic_to_openai_request`,
`openai_to_anthropic_response` and `OpenAIToAnthropicStream`, a sans-I/O
translator from OpenAI chat completion SSE to Anthropic's SSE events.

Translation maps what has an equivalent and drops the rest (top_k, server tools,
thinking blocks — an unsigned thinking block would be refused when sent back to
Anthropic). Never does I/O and never mutates its input.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

import orjson
from pydantic import Discriminator, Field, Tag, ValidationError

from orca_desktop.wire.errors import ApiError, anthropic_error_from_validation
from orca_desktop.wire.openai import NonEmptyStr, Unit, WireModel, shape_tag

__all__ = [
    "MessagesRequest",
    "OpenAIToAnthropicStream",
    "anthropic_to_openai_request",
    "openai_to_anthropic_response",
    "validate_messages_request",
]

# --- validation ----------------------------------------------------------------------

_BLOCK_TYPES = frozenset(
    ("text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking")
)


def _block_tag(value: Any) -> str:
    if not isinstance(value, dict):
        return "~not_object"
    kind = value.get("type")
    if isinstance(kind, str) and kind in _BLOCK_TYPES:
        return "~" + kind
    return "~other"


class TextBlock(WireModel):
    type: Literal["text"]
    text: str


class Source(WireModel):
    type: NonEmptyStr  # base64 | url | file | text | content ...
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class ImageBlock(WireModel):
    type: Literal["image"]
    source: Source


class DocumentBlock(WireModel):
    type: Literal["document"]
    source: Source


class ToolUseBlock(WireModel):
    type: Literal["tool_use"]
    id: NonEmptyStr
    name: NonEmptyStr
    input: dict[str, Any]


class ThinkingBlock(WireModel):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(WireModel):
    type: Literal["redacted_thinking"]
    data: str


class OtherBlock(WireModel):
    """A block type we do not know (server tools, search results, betas): kept."""

    type: NonEmptyStr


class ToolResultBlock(WireModel):
    type: Literal["tool_result"]
    tool_use_id: NonEmptyStr
    content: BlockContent | None = None
    is_error: bool | None = None


Block = Annotated[
    Annotated[TextBlock, Tag("~text")]
    | Annotated[ImageBlock, Tag("~image")]
    | Annotated[DocumentBlock, Tag("~document")]
    | Annotated[ToolUseBlock, Tag("~tool_use")]
    | Annotated[ToolResultBlock, Tag("~tool_result")]
    | Annotated[ThinkingBlock, Tag("~thinking")]
    | Annotated[RedactedThinkingBlock, Tag("~redacted_thinking")]
    | Annotated[OtherBlock, Tag("~other")],
    Discriminator(_block_tag),
]
BlockContent = Annotated[
    Annotated[str, Tag("~str")] | Annotated[list[Block], Tag("~list")], Discriminator(shape_tag)
]
ToolResultBlock.model_rebuild()


class MessageParam(WireModel):
    """A turn; `system` is Anthropic's mid-conversation system message (Claude Code
    sends one after the latest user turn, its content possibly an empty list)."""

    role: Literal["user", "assistant", "system"]
    content: BlockContent


class CustomTool(WireModel):
    name: NonEmptyStr
    description: str | None = None
    input_schema: dict[str, Any]


class ServerTool(WireModel):
    """A tool with a `type` other than custom: Anthropic's server tools (web_search,
    bash, code_execution ...) and betas; most have a `name`, an MCP toolset has
    `mcp_server_name` instead. Kept as sent."""

    type: NonEmptyStr
    name: NonEmptyStr | None = None


def _tool_tag(value: Any) -> str:
    if not isinstance(value, dict):
        return "~not_object"
    return "~custom" if value.get("type") in (None, "custom") else "~server"


Tool = Annotated[
    Annotated[CustomTool, Tag("~custom")] | Annotated[ServerTool, Tag("~server")],
    Discriminator(_tool_tag),
]


class ToolChoice(WireModel):
    type: Literal["auto", "any", "tool", "none"]
    name: NonEmptyStr | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(WireModel):
    user_id: str | None = None


class Thinking(WireModel):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: Annotated[int, Field(ge=1024)] | None = None


class MessagesRequest(WireModel):
    """A validated Anthropic Messages request (unknown fields kept as extras)."""

    model: NonEmptyStr
    max_tokens: Annotated[int, Field(ge=1)]
    messages: Annotated[list[MessageParam], Field(min_length=1)]
    system: (
        Annotated[
            Annotated[str, Tag("~str")] | Annotated[list[TextBlock], Tag("~list")],
            Discriminator(shape_tag),
        ]
        | None
    ) = None
    stream: bool | None = None
    temperature: Unit | None = None
    top_p: Unit | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    stop_sequences: list[str] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    metadata: Metadata | None = None
    thinking: Thinking | None = None


_BLOCK = 'a content block object such as {"type": "text", "text": "..."}'
ALLOWED: dict[str, str] = {
    "model": "a non-empty string",
    "max_tokens": "an integer >= 1",
    "messages": "a non-empty list of messages",
    "messages[]": 'an object such as {"role": "user", "content": "..."}',
    "messages[].role": "one of 'user', 'assistant', 'system'",
    "messages[].content": "a string or a list of content blocks",
    "messages[].content[]": _BLOCK,
    "messages[].content[].type": "a non-empty string such as 'text' or 'tool_result'",
    "messages[].content[].text": "a string",
    "messages[].content[].id": "a non-empty string",
    "messages[].content[].name": "a non-empty string",
    "messages[].content[].input": "an object",
    "messages[].content[].tool_use_id": "a non-empty string",
    "messages[].content[].content": "a string or a list of content blocks",
    "messages[].content[].content[]": _BLOCK,
    "messages[].content[].is_error": "a boolean",
    "messages[].content[].source": 'an object such as {"type": "base64", "data": "..."}',
    "messages[].content[].thinking": "a string",
    "system": "a string or a list of text blocks",
    "system[]": 'a text block {"type": "text", "text": "..."}',
    "system[].type": "'text'",
    "system[].text": "a string",
    "stream": "a boolean",
    "temperature": "a number between 0 and 1",
    "top_p": "a number between 0 and 1",
    "top_k": "an integer >= 0",
    "stop_sequences": "a list of strings",
    "stop_sequences[]": "a string",
    "tools": "a list of tools",
    "tools[]": 'an object such as {"name": "...", "input_schema": {...}}',
    "tools[].name": "a non-empty string",
    "tools[].description": "a string",
    "tools[].input_schema": "an object (JSON Schema)",
    "tools[].type": "a non-empty string",
    "tool_choice": 'an object such as {"type": "auto"}',
    "tool_choice.type": "one of 'auto', 'any', 'tool', 'none'",
    "tool_choice.name": "a non-empty string",
    "tool_choice.disable_parallel_tool_use": "a boolean",
    "metadata": 'an object such as {"user_id": "..."}',
    "metadata.user_id": "a string",
    "thinking": 'an object such as {"type": "enabled", "budget_tokens": 2048}',
    "thinking.type": "one of 'enabled', 'disabled', 'adaptive'",
    "thinking.budget_tokens": "an integer >= 1024",
}


def validate_messages_request(body: Any) -> MessagesRequest:
    """Validate a decoded `/v1/messages` body; raises `ApiError(400)` naming the field.

    Checked: what routing and translation read (model, max_tokens, the messages'
    roles and content shapes, the known block types, stream, temperature/top_p/top_k,
    tools' name/input_schema, tool_choice, thinking). Everything else is kept as sent:
    unknown top-level keys (context_management, output_config, safeguards), unknown
    keys on messages, blocks, tools and thinking (output_config, cache_control,
    defer_loading, display), unknown block and tool types, and `role: "system"`
    turns anywhere in `messages` (content a string or a list, possibly empty).

    Errors are worded as Anthropic's API words them (dotted path, pydantic's words),
    e.g. `messages.1.role: Input should be 'user', 'assistant' or 'system'`; `param`
    is the OpenAI-style path (`messages[1].role`).
    """
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", code="invalid_value")
    try:
        request = MessagesRequest.model_validate(body)
    except ValidationError as exc:
        raise anthropic_error_from_validation(exc, ALLOWED) from None
    choice = request.tool_choice
    if choice is not None and choice.type == "tool" and choice.name is None:
        raise ApiError(
            400,
            "tool_choice.name: Field required",
            param="tool_choice.name",
            code="invalid_value",
        )
    if request.thinking is not None and request.thinking.type == "enabled":
        if request.thinking.budget_tokens is None:
            raise ApiError(
                400,
                "thinking.budget_tokens: Field required",
                param="thinking.budget_tokens",
                code="invalid_value",
            )
    return request


# --- Anthropic request -> OpenAI request ---------------------------------------------------


def _reasoning_effort(budget: int) -> str:
    """A thinking budget as an OpenAI effort: <4k low, <16k medium, else high."""
    if budget < 4096:
        return "low"
    if budget < 16384:
        return "medium"
    return "high"


def _image_part(source: dict[str, Any]) -> dict[str, Any] | None:
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        return None
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(source: dict[str, Any]) -> dict[str, Any] | None:
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if source.get("type") == "base64":
        media = source.get("media_type", "application/pdf")
        data_url = f"data:{media};base64,{source.get('data', '')}"
        return {"type": "file", "file": {"filename": "document.pdf", "file_data": data_url}}
    return None


def _user_part(block: dict[str, Any]) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "image":
        return _image_part(block.get("source") or {})
    if kind == "document":
        return _document_part(block.get("source") or {})
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _user_messages(content: Any) -> list[dict[str, Any]]:
    """Tool results become `tool` messages (first, as OpenAI requires them right
    after the assistant's tool calls); the rest one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        if block.get("type") == "tool_result":
            result = block.get("content")
            out.append(
                {"role": "tool", "tool_call_id": block["tool_use_id"], "content": _text_of(result)}
            )
            if isinstance(result, list):
                parts.extend(p for b in result if b.get("type") == "image" if (p := _user_part(b)))
        elif part := _user_part(block):
            parts.append(part)
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant_message(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
    calls = [
        {
            "id": b["id"],
            "type": "function",
            "function": {"name": b["name"], "arguments": orjson.dumps(b["input"]).decode()},
        }
        for b in content
        if b.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_choice(choice: dict[str, Any]) -> Any:
    kind = choice.get("type")
    if kind == "any":
        return "required"
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return "none" if kind == "none" else "auto"


_MAPPED_KEYS = frozenset(
    (
        "model", "messages", "system", "max_tokens", "temperature", "top_p", "stop_sequences",
        "stream", "tools", "tool_choice", "metadata",
    )
)  # fmt: skip
_MAPPED_BLOCKS = {
    "user": frozenset(("text", "image", "document", "tool_result")),
    "assistant": frozenset(("text", "tool_use")),
    "system": frozenset(("text",)),
}


def _note(dropped: list[str], name: str) -> None:
    if name not in dropped:
        dropped.append(name)


def _note_blocks(content: Any, role: Any, dropped: list[str]) -> None:
    """Name the block types of a turn that the chat form has no place for."""
    if not isinstance(content, list):
        return
    mapped = _MAPPED_BLOCKS.get(role if isinstance(role, str) else "", frozenset())
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in mapped:
            _note(dropped, f"messages[].content[{kind}]")
        elif kind == "document" and (block.get("source") or {}).get("type") not in (
            "text",
            "base64",
        ):
            _note(dropped, "messages[].content[document]")


def anthropic_to_openai_request(
    body: dict[str, Any],
    *,
    dropped: list[str] | None = None,
    reasoning: bool | None = None,
) -> dict[str, Any]:
    """An OpenAI chat completions body for a validated Anthropic Messages body.

    Mapped: system, messages (text, images, PDFs, tool_use, tool_result), max_tokens,
    temperature, top_p, stop_sequences (first 4), stream (+ include_usage), custom
    tools, tool_choice, disable_parallel_tool_use, metadata.user_id, thinking and
    effort → reasoning_effort (below). A `role: "system"` turn inside `messages`
    becomes a chat system message at the same place (Claude Code puts its
    environment, skills and tool lists there); one with no text is left out.

    Dropped, and named in `dropped` (when given) once each: unknown top-level keys
    (`top_k`, `context_management`, `safeguards`, `output_config` — its effort is
    only approximated, its other keys have no counterpart), keys on messages
    (`messages[].output_config`), tool keys with no counterpart
    (`tools[].defer_loading`, the tool itself is still sent), server tools
    (`tools[<type>]`), block types with no place in the chat form
    (`messages[].content[<type>]`, thinking blocks among them: an unsigned thinking
    block would be refused when sent back to Anthropic), and `thinking` when it is
    not carried over.

    Reasoning: `thinking: {"type": "enabled", "budget_tokens": N}` asks for thinking
    (routing then wants a reasoning model), so it becomes reasoning_effort by budget
    (< 4k low, < 16k medium, else high). `"adaptive"` (Claude Code's default, sent
    for any model) lets the model decide, so by default nothing is sent: a chat
    provider refuses reasoning_effort for a model that does not reason (gpt-4o).
    With `reasoning=True` (the caller knows the model reasons), `output_config.effort`
    low/medium/high/max becomes reasoning_effort low/medium/high/xhigh, with
    adaptive or no thinking. With `reasoning=False` nothing is sent and a requested
    thinking is named in `dropped`. `"disabled"` sends nothing. Never raises on a
    body `validate_messages_request` accepts, and never mutates it.
    """
    dropped = [] if dropped is None else dropped
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text_of(system)})
    for message in body.get("messages", []):
        role = message.get("role")
        for key in message:
            if key not in ("role", "content"):
                _note(dropped, f"messages[].{key}")
        content = message.get("content", "")
        _note_blocks(content, role, dropped)
        if role == "assistant":
            messages.append(_assistant_message(content))
        elif role == "system":
            # a mid-conversation system turn stays where it is: Claude Code puts its
            # environment, skills and tool lists there
            text = _text_of(content)
            if text:
                messages.append({"role": "system", "content": text})
        else:
            messages.extend(_user_messages(content))
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    for key in ("max_tokens", "temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"][:4]
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    for key in body:
        if key not in _MAPPED_KEYS and key != "thinking":
            _note(dropped, key)
    tools = []
    for tool in body.get("tools") or ():
        if tool.get("type") not in (None, "custom"):
            _note(dropped, f"tools[{tool.get('type')}]")
            continue
        tools.append(tool)
        for key in tool:
            if key not in _TOOL_KEYS:
                _note(dropped, f"tools[].{key}")
    if tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    **({"description": t["description"]} if t.get("description") else {}),
                    "parameters": t.get("input_schema") or {"type": "object"},
                },
            }
            for t in tools
        ]
        choice = body.get("tool_choice")
        if choice:
            out["tool_choice"] = _tool_choice(choice)
            if choice.get("disable_parallel_tool_use"):
                out["parallel_tool_calls"] = False
    user_id = (body.get("metadata") or {}).get("user_id")
    if isinstance(user_id, str):
        out["user"] = user_id
    effort = _effort(body, reasoning)
    if effort is not None:
        out["reasoning_effort"] = effort
    elif reasoning is False and isinstance(body.get("thinking"), dict):
        if body["thinking"].get("type") in ("enabled", "adaptive"):
            _note(dropped, "thinking")
    return out


_TOOL_KEYS = frozenset(("name", "description", "input_schema", "type"))
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "xhigh", "xhigh": "xhigh"}
"""Anthropic's `output_config.effort` as an OpenAI reasoning_effort."""


def _effort(body: dict[str, Any], reasoning: bool | None) -> str | None:
    """The reasoning_effort for a Messages body (see anthropic_to_openai_request)."""
    if reasoning is False:
        return None
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "enabled":
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        return _reasoning_effort(budget) if type(budget) is int else None
    if kind not in (None, "adaptive") or reasoning is not True:
        return None
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    return _EFFORTS.get(effort) if isinstance(effort, str) else None


# --- OpenAI response -> Anthropic response -----------------------------------------------

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _tool_id(raw: Any) -> str:
    """Anthropic tool ids match ^[A-Za-z0-9_-]+$; other providers' ids may not."""
    if isinstance(raw, str) and raw:
        return _ID_UNSAFE.sub("_", raw)
    return "toolu_" + uuid.uuid4().hex[:24]


def _tool_input(arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"arguments": arguments}  # the model sees what it wrote and can retry
    return value if isinstance(value, dict) else {"value": value}


def _anthropic_usage(usage: Any) -> dict[str, int]:
    if not isinstance(usage, dict):
        return {"input_tokens": 0, "output_tokens": 0}
    prompt = usage.get("prompt_tokens") or 0
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or 0 if isinstance(details, dict) else 0
    return {
        "input_tokens": max(int(prompt) - int(cached), 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_read_input_tokens": int(cached),
        "cache_creation_input_tokens": 0,
    }


def _message_id(raw: Any) -> str:
    if isinstance(raw, str) and raw:
        return "msg_" + _ID_UNSAFE.sub("_", raw)
    return "msg_" + uuid.uuid4().hex[:24]


def openai_to_anthropic_response(resp: dict[str, Any], model: str) -> dict[str, Any]:
    """An Anthropic `message` for an OpenAI `chat.completion`; `model` is used only
    when the provider reported none."""
    choices = resp.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = _text_of(message.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": _tool_id(call.get("id")),
                "name": function.get("name", ""),
                "input": _tool_input(function.get("arguments")),
            }
        )
    reason = _STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn")
    if reason == "end_turn" and any(b["type"] == "tool_use" for b in content):
        reason = "tool_use"
    return {
        "id": _message_id(resp.get("id")),
        "type": "message",
        "role": "assistant",
        "model": resp.get("model") or model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": _anthropic_usage(resp.get("usage")),
    }


# --- OpenAI stream -> Anthropic stream -------------------------------------------------------


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class OpenAIToAnthropicStream:
    """Sans-I/O translator: OpenAI `chat.completion.chunk` SSE in, Anthropic SSE out.

    Emits message_start on the first chunk, one content block per run of text or
    per tool call (text_delta / input_json_delta), and at the end the closing
    content_block_stop, message_delta (stop_reason, usage) and message_stop.
    Reasoning deltas are dropped (no signature to give them). After `finish` or
    `error_tail` it is closed and returns b"".
    """

    def __init__(self, *, model: str, message_id: str | None = None, input_tokens: int = 0):
        self.model = model
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self._id = message_id
        self._input_tokens = input_tokens
        self._buf = b""
        self._started = False
        self._closed = False
        self._blocks = 0  # content blocks started so far
        self._open: str | None = None  # "text" | "tool" | None
        self._tool_key: tuple[Any, Any] | None = None  # (OpenAI tool index, id) of the open block
        self._used_tools = False

    def feed(self, data: bytes) -> bytes:
        """Anthropic SSE bytes for the OpenAI SSE frames completed by `data`."""
        if self._closed:
            return b""
        buf = (self._buf + data).replace(b"\r\n", b"\n")
        frames = buf.split(b"\n\n")
        self._buf = frames.pop()
        out: list[bytes] = []
        for frame in frames:
            payload = b"\n".join(
                line[5:].removeprefix(b" ") for line in frame.split(b"\n") if line[:5] == b"data:"
            )
            if not payload:
                continue
            if payload == b"[DONE]":
                out.append(self.finish())
                break
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            if isinstance(chunk, dict):
                out.append(self.feed_chunk(chunk))
        return b"".join(out)

    def feed_chunk(self, chunk: dict[str, Any]) -> bytes:
        """Anthropic SSE bytes for one decoded OpenAI chunk."""
        if self._closed:
            return b""
        error = chunk.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else str(error)
            return self.error_tail(str(message or "upstream error"))
        out: list[bytes] = []
        self._start(chunk, out)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or ()
        for choice in choices[:1]:
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if isinstance(text, str) and text:
                self._text(text, out)
            for call in delta.get("tool_calls") or ():
                self._tool(call, out)
            reason = choice.get("finish_reason")
            if reason:
                self.stop_reason = _STOP_REASONS.get(reason, "end_turn")
        return b"".join(out)

    def finish(self) -> bytes:
        """The closing events (once): last block stop, message_delta, message_stop."""
        if self._closed:
            return b""
        out: list[bytes] = []
        self._start({}, out)
        self._close_block(out)
        self._closed = True
        reason = self.stop_reason or "end_turn"
        if reason == "end_turn" and self._used_tools:
            reason = "tool_use"
        self.stop_reason = reason
        usage = _anthropic_usage(self.usage)
        if self.usage is None:
            usage["input_tokens"] = self._input_tokens
        delta = {"stop_reason": reason, "stop_sequence": None}
        out.append(
            _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
        )
        out.append(_event("message_stop", {"type": "message_stop"}))
        return b"".join(out)

    def error_tail(self, message: str, *, type: str = "api_error") -> bytes:  # noqa: A002
        """Anthropic's `event: error` for a failure after the first byte (once)."""
        if self._closed:
            return b""
        self._closed = True
        return _event("error", {"type": "error", "error": {"type": type, "message": message}})

    def _start(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        if self._started:
            return
        self._started = True
        message: dict[str, Any] = {
            "id": self._id or _message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0},
        }
        out.append(_event("message_start", {"type": "message_start", "message": message}))

    def _open_block(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        self._close_block(out)
        self._open = kind
        start = {"type": "content_block_start", "index": self._blocks, "content_block": block}
        out.append(_event("content_block_start", start))
        self._blocks += 1

    def _close_block(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(
                _event(
                    "content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1}
                )
            )
            self._open = None
            self._tool_key = None

    def _delta(self, delta: dict[str, Any], out: list[bytes]) -> None:
        payload = {"type": "content_block_delta", "index": self._blocks - 1, "delta": delta}
        out.append(_event("content_block_delta", payload))

    def _text(self, text: str, out: list[bytes]) -> None:
        if self._open != "text":
            self._open_block("text", {"type": "text", "text": ""}, out)
        self._delta({"type": "text_delta", "text": text}, out)

    def _tool(self, call: dict[str, Any], out: list[bytes]) -> None:
        index = call.get("index", 0)
        call_id = call.get("id")
        function = call.get("function") or {}
        same = (
            self._open == "tool"
            and self._tool_key is not None
            and self._tool_key[0] == index
            and (not call_id or call_id == self._tool_key[1])
        )
        if not same:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": _tool_id(call_id),
                "name": function.get("name") or "",
                "input": {},
            }
            self._open_block("tool", block, out)
            self._tool_key = (index, call_id)
            self._used_tools = True
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self._delta({"type": "input_json_delta", "partial_json": arguments}, out)
