"""OpenAI chat completions to Anthropic's native Messages API, and the answers back.

Owns `chat_to_messages_request` (a chat body as a Messages body, with automatic
prompt-cache breakpoints), `messages_to_chat_response`, `MessagesToChatStream`
(a sans-I/O filter from Anthropic SSE events to chat completion chunks, with
the facts the exchange reads) and `takes_mid_conversation_system`. What has no
Anthropic counterpart is dropped and its name appended to the caller's
`dropped` list. Never does I/O and never mutates its input.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import orjson

from orca_desktop.wire.errors import openai_error_body

__all__ = [
    "MessagesCall",
    "MessagesToChatStream",
    "anthropic_usage_as_openai",
    "chat_to_messages_request",
    "messages_to_chat_response",
    "takes_mid_conversation_system",
]

DONE_FRAME = b"data: [DONE]\n\n"
TRUNCATED = "the provider ended the stream before the answer was complete"
DEFAULT_MAX_TOKENS = 4096
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000}
MAX_BREAKPOINTS = 4  # Anthropic's limit on cache_control blocks per request
_EPHEMERAL = {"type": "ephemeral"}
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAPPED = frozenset(
    (
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
        "stop", "stream", "tools", "tool_choice", "parallel_tool_calls", "reasoning_effort",
        "response_format", "user", "stream_options",
    )
)  # fmt: skip
_STRUCTURED_BETA = "structured-outputs-2025-11-13"


@dataclass(frozen=True, slots=True)
class MessagesCall:
    body: dict[str, Any]
    betas: tuple[str, ...] = ()


_VERSION = re.compile(r"claude-(?:[a-z]+-)?(\d+)(?:[-.](\d{1,2}))?(?:-|$)")


def takes_mid_conversation_system(model_id: str) -> bool:
    """True for Claude models that take `role: "system"` turns inside `messages`:
    Claude Opus 4.8 and later, and every Claude 5 or later."""
    m = _VERSION.search(model_id.lower())
    if m is None:
        return False
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    return major >= 5 or (major == 4 and minor >= 8 and "opus" in model_id.lower())


def _tool_id(raw: Any) -> str:
    return _ID_UNSAFE.sub("_", raw) if isinstance(raw, str) and raw else "toolu_none"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _image(url: str) -> dict[str, Any] | None:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        media = head[5:].split(";", 1)[0] or "image/png"
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    return None


def _blocks(content: Any, dropped: list[str]) -> list[dict[str, Any]]:
    """Chat content (a string or parts) as Anthropic content blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    out: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        block: dict[str, Any] | None = None
        if kind == "text" and isinstance(part.get("text"), str):
            block = {"type": "text", "text": part["text"]}
        elif kind == "image_url":
            ref = part.get("image_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
            block = _image(url) if isinstance(url, str) else None
        elif kind == "file":
            data = (part.get("file") or {}).get("file_data")
            if isinstance(data, str) and data.startswith("data:application/pdf"):
                pdf = data.partition(",")[2]
                source = {"type": "base64", "media_type": "application/pdf", "data": pdf}
                block = {"type": "document", "source": source}
        if block is None:
            _note(dropped, f"messages[].content[{kind}]")
            continue
        if isinstance(part.get("cache_control"), dict):
            block["cache_control"] = part["cache_control"]
        out.append(block)
    return out


def _note(dropped: list[str], name: str) -> None:
    if name not in dropped:
        dropped.append(name)


def _arguments(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"arguments": text}
    return value if isinstance(value, dict) else {"value": value}


Blocks = list[dict[str, Any]]


def _turns(messages: list[Any], mid_system: bool, dropped: list[str]) -> tuple[Blocks, Blocks]:
    """(system blocks, turns): consecutive same-role turns merged, tool results as
    user turns, later system turns in place when the model takes them."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            blocks = [b for b in _blocks(message.get("content"), dropped) if b["type"] == "text"]
            if not blocks:
                continue
            if turns and mid_system and turns[-1]["role"] == "user":
                turns.append({"role": "system", "content": blocks})
            elif turns and mid_system and turns[-1]["role"] == "system":
                turns[-1]["content"].extend(blocks)
            else:
                system.extend(blocks)
            continue
        if role == "tool":
            role, blocks = (
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": _tool_id(message.get("tool_call_id")),
                        "content": _text(message.get("content")),
                    }
                ],
            )
        elif role == "assistant":
            blocks = _blocks(message.get("content"), dropped)
            for call in message.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict):
                    _note(dropped, "messages[].tool_calls[custom]")
                    continue
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": _tool_id(call.get("id")),
                        "name": function.get("name") or "",
                        "input": _arguments(function.get("arguments")),
                    }
                )
        else:
            role, blocks = "user", _blocks(message.get("content"), dropped)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    # a system turn must be last or followed by an assistant turn; else it joins `system`
    kept: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        if turn["role"] == "system" and i + 1 < len(turns) and turns[i + 1]["role"] != "assistant":
            system.extend(turn["content"])
            continue
        kept.append(turn)
    return system, kept


def _tools(body: dict[str, Any], out: dict[str, Any], dropped: list[str]) -> None:
    tools = []
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not function:
            _note(dropped, f"tools[{tool.get('type') if isinstance(tool, dict) else '?'}]")
            continue
        entry: dict[str, Any] = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = function["description"]
        tools.append(entry)
    if not tools:
        return
    out["tools"] = tools
    choice = body.get("tool_choice")
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if choice == "none":
        out["tool_choice"] = {"type": "none"}
    elif choice == "required":
        out["tool_choice"] = {"type": "any"}
    elif isinstance(named, str):
        out["tool_choice"] = {"type": "tool", "name": named}
    elif body.get("parallel_tool_calls") is False:
        out["tool_choice"] = {"type": "auto"}
    if (
        body.get("parallel_tool_calls") is False
        and out.get("tool_choice", {}).get("type") != "none"
    ):
        out["tool_choice"]["disable_parallel_tool_use"] = True


def _breakpoints(out: dict[str, Any]) -> None:
    """cache_control on the last system block, the last tool and the last block of the
    user turn before the last one, within Anthropic's four (the client's count)."""
    raw = orjson.dumps(out)
    budget = MAX_BREAKPOINTS - raw.count(b'"cache_control"')
    users = [t for t in out["messages"] if t["role"] == "user"]
    targets = [
        out["system"][-1] if out.get("system") else None,
        out["tools"][-1] if out.get("tools") else None,
        users[-2]["content"][-1] if len(users) >= 2 else None,
    ]
    for target in targets:
        if budget <= 0:
            return
        if target is not None and "cache_control" not in target:
            target["cache_control"] = dict(_EPHEMERAL)
            budget -= 1


def chat_to_messages_request(
    body: dict[str, Any],
    *,
    upstream_model: str,
    max_output_tokens: int | None,
    mid_system: bool,
    cache: bool = True,
    dropped: list[str] | None = None,
) -> MessagesCall:
    """The Messages body for a chat completions body (PRODUCT.md, "Anthropic providers")."""
    dropped = [] if dropped is None else dropped
    for key in body:
        if key not in _MAPPED:
            _note(dropped, key)
    system, turns = _turns(body.get("messages") or [], mid_system, dropped)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        limit = max_output_tokens or DEFAULT_MAX_TOKENS
    out: dict[str, Any] = {"model": upstream_model, "max_tokens": limit, "messages": turns}
    if system:
        out["system"] = system
    betas: list[str] = []
    effort = body.get("reasoning_effort")
    budget = THINKING_BUDGETS.get(effort) if isinstance(effort, str) else None
    if budget is not None:
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        out["max_tokens"] = max(limit, budget + DEFAULT_MAX_TOKENS)
        for key in ("temperature", "top_p"):
            if body.get(key) is not None:
                _note(dropped, key)
    else:
        if isinstance(body.get("temperature"), int | float):
            out["temperature"] = min(float(body["temperature"]), 1.0)
        if isinstance(body.get("top_p"), int | float):
            out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = [s for s in stop if isinstance(s, str)]
    if body.get("stream") is True:
        out["stream"] = True
    _tools(body, out, dropped)
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
        out["output_format"] = {"type": "json_schema", "schema": schema}
        betas.append(_STRUCTURED_BETA)
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        _note(dropped, "response_format")
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if cache:
        _breakpoints(out)
    return MessagesCall(out, tuple(betas))


# -- answers ----------------------------------------------------------------------------

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def anthropic_usage_as_openai(usage: Any) -> dict[str, Any] | None:
    """Anthropic usage as OpenAI's: prompt tokens include cache reads and writes."""
    if not isinstance(usage, dict):
        return None
    read = _count(usage.get("cache_read_input_tokens"))
    write = _count(usage.get("cache_creation_input_tokens"))
    prompt = _count(usage.get("input_tokens")) + read + write
    completion = _count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": write},
    }


def messages_to_chat_response(message: dict[str, Any], *, served_model: str) -> dict[str, Any]:
    """A `chat.completion` for an Anthropic `message`."""
    text: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": block.get("id") or "",
                    "type": "function",
                    "function": {"name": block.get("name") or "", "arguments": arguments},
                }
            )
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(text) or (None if calls else ""),
    }
    if thinking:
        reply["reasoning_content"] = "".join(thinking)
    if calls:
        reply["tool_calls"] = calls
    reason = _FINISH.get(str(message.get("stop_reason")), "stop")
    model = message.get("model") if isinstance(message.get("model"), str) else served_model
    out: dict[str, Any] = {
        "id": f"chatcmpl-{message.get('id') or 'anthropic'}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": reply, "finish_reason": reason, "logprobs": None}],
    }
    usage = anthropic_usage_as_openai(message.get("usage"))
    if usage is not None:
        out["usage"] = usage
    return out


class MessagesToChatStream:
    """Sans-I/O: Anthropic Messages SSE in, chat completion chunk SSE out, with facts
    (`usage`, `model`, `error`, `saw_done`, `first_content`, `finish_reason`,
    `complete`). Every complete event is translated as soon as its blank line comes."""

    def __init__(self, *, served_model: str, keep_usage: bool) -> None:
        self.served_model = served_model
        self.keep_usage = keep_usage
        self.reported_model: str | None = None
        self.error: Any = None
        self.saw_done = False
        self.first_content = False
        self.finish_reason: str | None = None
        self.truncated = False
        self._usage: dict[str, Any] = {}
        self._buf = b""
        self._closed = False
        self._id = "chatcmpl-anthropic"
        self._created = int(time.time())
        self._tools: dict[int, int] = {}  # Anthropic block index -> tool_calls index

    @property
    def model(self) -> str | None:
        return self.reported_model or self.served_model

    @property
    def usage(self) -> dict[str, Any] | None:
        return anthropic_usage_as_openai(self._usage) if self._usage else None

    @property
    def complete(self) -> bool:
        return self.saw_done and not self.truncated

    def feed(self, data: bytes) -> bytes:
        if self._closed:
            return b""
        buf = self._buf + data
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._buf = buf
            return b""
        whole, self._buf = buf[:end], buf[end + 2 :]
        return b"".join(self._event(e) for e in whole.split(b"\n\n") if e.strip())

    def flush(self) -> bytes:
        if self._closed:
            return b""
        block, self._buf = self._buf.strip(b"\n"), b""
        if not block:
            return b""
        data = _data_of(block)
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            self.truncated = True
            return b""
        return self._event(block)

    def finish(self) -> bytes:
        if self._closed:
            return b""
        tail = self.flush()
        if not self.complete and self.error is None:
            return tail + self.error_tail(
                "the provider ended the stream before the answer was complete"
            )
        self._closed = True
        return tail + DONE_FRAME

    def error_tail(self, message: str) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        body = openai_error_body(502, message, type="upstream_error")
        return b"data: " + body + b"\n\n" + DONE_FRAME

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        frame = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(frame) + b"\n\n"

    def _event(self, block: bytes) -> bytes:
        try:
            event = orjson.loads(_data_of(block))
        except orjson.JSONDecodeError:
            return b""
        if not isinstance(event, dict):
            return b""
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            if isinstance(message.get("model"), str):
                self.reported_model = message["model"]
            if isinstance(message.get("id"), str):
                self._id = f"chatcmpl-{message['id']}"
            self._merge(message.get("usage"))
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start":
            block_ = event.get("content_block") or {}
            if block_.get("type") != "tool_use":
                return b""
            self.first_content = True
            n = self._tools[event.get("index", 0)] = len(self._tools)
            call = {
                "index": n,
                "id": block_.get("id") or "",
                "type": "function",
                "function": {"name": block_.get("name") or "", "arguments": ""},
            }
            return self._chunk({"tool_calls": [call]})
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                self.first_content = True
                return self._chunk({"content": delta.get("text", "")})
            if dtype == "thinking_delta":
                self.first_content = True
                return self._chunk({"reasoning_content": delta.get("thinking", "")})
            if dtype == "input_json_delta":
                n = self._tools.get(event.get("index", 0), 0)
                fragment = {"index": n, "function": {"arguments": delta.get("partial_json", "")}}
                return self._chunk({"tool_calls": [fragment]})
            return b""
        if kind == "message_delta":
            self._merge(event.get("usage"))
            reason = (event.get("delta") or {}).get("stop_reason")
            self.finish_reason = _FINISH.get(str(reason), "stop")
            return self._chunk({}, self.finish_reason)
        if kind == "message_stop":
            self.saw_done = True
            if not self.keep_usage or not self._usage:
                return b""
            frame = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self.model,
                "choices": [],
                "usage": self.usage,
            }
            return b"data: " + orjson.dumps(frame) + b"\n\n"
        if kind == "error":
            given = event.get("error")
            error: dict[str, Any] = given if isinstance(given, dict) else {}
            self.error = {
                "message": str(error.get("message") or "the provider reported an error"),
                "type": str(error.get("type") or "upstream_error"),
                "param": None,
                "code": None,
            }
            return b"data: " + orjson.dumps({"error": self.error}) + b"\n\n"
        return b""  # ping, content_block_stop, unknown events

    def _merge(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for key, value in usage.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    self._usage[key] = value


def _data_of(block: bytes) -> bytes:
    return b"\n".join(
        line[5:].removeprefix(b" ") for line in block.split(b"\n") if line.startswith(b"data:")
    )
