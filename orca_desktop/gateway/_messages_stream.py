"""Stream filters for `/v1/messages`: upstream SSE bytes in, Anthropic SSE bytes and facts out.

Two sans-I/O filters with the `StreamFilter` shape the exchange drives
(`feed`, `flush`, `finish`, `error_tail` and the facts `usage`, `model`,
`error`, `saw_done`, `first_content`, `finish_reason`, `complete`):

- `AnthropicPassthrough` forwards an Anthropic provider's own events (pings
  included) frame by frame as they complete, reading only what accounting and
  fallback need (message_start / message_delta usage, content starts, stop,
  error);
- `TranslatedStream` runs an OpenAI chat completions stream through the
  `StreamCleaner` and then `OpenAIToAnthropicStream`.

`usage` is always OpenAI-shaped (prompt tokens include cache reads and writes;
cache reads are `cached_tokens`), so the exchange prices both the same way. A
stream that ends without Anthropic's `message_stop` (or OpenAI's finish) is not
`complete`: the exchange ends it with `error_tail` (an `event: error` frame
naming the provider), and `finish` on its own adds one too, so it never looks
like a clean truncation.
"""

from __future__ import annotations

from typing import Any

import orjson

from orca_desktop.gateway.sse import DONE_FRAME, StreamCleaner
from orca_desktop.gateway.upstream import StreamFilter
from orca_desktop.wire.anthropic import OpenAIToAnthropicStream

__all__ = ["AnthropicPassthrough", "TranslatedStream", "error_event", "openai_usage"]

_CONTENT_EVENTS = frozenset((b"content_block_start", b"content_block_delta"))
_PARSED_EVENTS = frozenset((b"message_start", b"message_delta", b"error"))
_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
TRUNCATED = "the provider ended the stream before the message was complete"


def error_event(message: str, *, type: str = "api_error") -> bytes:  # noqa: A002
    """Anthropic's `event: error` frame."""
    payload = {"type": "error", "error": {"type": type, "message": message}}
    return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def openai_usage(usage: Any) -> dict[str, Any] | None:
    """An Anthropic usage object as OpenAI's (what pricing reads), or None."""
    if not isinstance(usage, dict):
        return None
    cache_read = _count(usage.get("cache_read_input_tokens"))
    prompt = (
        _count(usage.get("input_tokens"))
        + cache_read
        + _count(usage.get("cache_creation_input_tokens"))
    )
    completion = _count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": cache_read,
            "cache_write_tokens": _count(usage.get("cache_creation_input_tokens")),
        },
    }


class AnthropicPassthrough:
    """Forwards an Anthropic Messages stream unchanged, one complete frame at a time."""

    __slots__ = (
        "_buf",
        "_closed",
        "_ended",
        "_usage",
        "error",
        "finish_reason",
        "first_content",
        "reported_model",
        "saw_done",
        "served_model",
        "truncated",
    )

    def __init__(self, *, served_model: str | None = None) -> None:
        self.served_model = served_model
        self.reported_model: str | None = None
        self.error: Any = None
        self.saw_done = False  # message_stop arrived
        self.first_content = False
        self.finish_reason: str | None = None
        self._usage: dict[str, Any] = {}
        self._ended = False  # message_delta arrived (final usage)
        self.truncated = False  # the upstream ended inside a frame (it was dropped)
        self._buf = b""
        self._closed = False

    @property
    def model(self) -> str | None:
        return self.reported_model or self.served_model

    @property
    def usage(self) -> dict[str, Any] | None:
        """OpenAI-shaped usage once content or the final delta arrived (the opening
        usage alone does not make a stream worth keeping)."""
        if not self._usage or not (self.first_content or self._ended or self.saw_done):
            return None
        return openai_usage(self._usage)

    def feed(self, data: bytes) -> bytes:
        """The frames completed by `data`, byte for byte."""
        if self._closed:
            return b""
        buf = self._buf + data
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._buf = buf
            return b""
        out, self._buf = buf[: end + 2], buf[end + 2 :]
        for frame in out.split(b"\n\n"):
            if frame.strip():
                self._note(frame)
        return out

    @property
    def complete(self) -> bool:
        """message_stop arrived: the message is whole."""
        return self.saw_done

    def flush(self) -> bytes:
        """The upstream ended: its last frame if that came whole without the blank line
        (a frame cut inside its data is dropped: SDKs fail on half a JSON object)."""
        if self._closed:
            return b""
        block, self._buf = self._buf.strip(b"\n"), b""
        if not block:
            return b""
        if not _whole(block):
            self.truncated = True
            return b""
        self._note(block)
        return block + b"\n\n"

    def finish(self) -> bytes:
        """The last frame if whole (see `flush`); an error frame when the message was cut."""
        if self._closed:
            return b""
        tail = self.flush()
        self._closed = True
        if not self.saw_done and self.error is None:
            tail += error_event(TRUNCATED)
        return tail

    def error_tail(self, message: str) -> bytes:
        """Anthropic's `event: error` for a failure after the first byte (once)."""
        if self._closed:
            return b""
        self._closed = True
        self._buf = b""
        return error_event(message)

    def _note(self, frame: bytes) -> None:
        event = b""
        data: list[bytes] = []
        for line in frame.split(b"\n"):
            if line.startswith(b"event:"):
                event = line[6:].strip()
            elif line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
        if event in _CONTENT_EVENTS:
            self.first_content = True
            return
        if event == b"message_stop":
            self.saw_done = True
            return
        if event and event not in _PARSED_EVENTS:
            return  # ping and the like
        try:
            payload = orjson.loads(b"\n".join(data))
        except orjson.JSONDecodeError:
            return
        if isinstance(payload, dict):
            self._note_payload(payload)

    def _note_payload(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == "message_start":
            message = payload.get("message")
            if isinstance(message, dict):
                if isinstance(message.get("model"), str):
                    self.reported_model = message["model"]
                self._merge(message.get("usage"))
        elif kind == "message_delta":
            self._ended = True
            delta = payload.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.finish_reason = delta["stop_reason"]
            self._merge(payload.get("usage"))
        elif kind == "error":
            self.error = payload.get("error") or payload
        elif kind in ("content_block_start", "content_block_delta"):
            self.first_content = True
        elif kind == "message_stop":
            self.saw_done = True

    def _merge(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for key in _USAGE_KEYS:
                value = usage.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    self._usage[key] = value


def _whole(block: bytes) -> bool:
    """True unless the event's data is JSON cut short."""
    data = [line[5:].removeprefix(b" ") for line in block.split(b"\n") if line[:5] == b"data:"]
    if not data:
        return True
    try:
        orjson.loads(b"\n".join(data))
    except orjson.JSONDecodeError:
        return False
    return True


class TranslatedStream:
    """A stream turned into chat completion chunks by `upstream` (by default an OpenAI
    chat stream, cleaned), as Anthropic Messages events. The facts are `upstream`'s."""

    __slots__ = ("_cleaner", "_translator")

    def __init__(
        self, *, served_model: str, upstream: StreamFilter | None = None, input_tokens: int = 0
    ) -> None:
        if upstream is None:
            upstream = StreamCleaner(served_model=served_model, keep_usage=True)
        self._cleaner = upstream
        self._translator = OpenAIToAnthropicStream(model=served_model, input_tokens=input_tokens)

    @property
    def usage(self) -> dict[str, Any] | None:
        return self._cleaner.usage

    @property
    def model(self) -> str | None:
        return self._cleaner.model

    @property
    def error(self) -> Any:
        return self._cleaner.error

    @property
    def saw_done(self) -> bool:
        return self._cleaner.saw_done

    @property
    def first_content(self) -> bool:
        return self._cleaner.first_content

    @property
    def finish_reason(self) -> str | None:
        return self._cleaner.finish_reason

    @property
    def complete(self) -> bool:
        return self._cleaner.complete

    def feed(self, data: bytes) -> bytes:
        cleaned = self._cleaner.feed(data)
        return self._translator.feed(cleaned) if cleaned else b""

    def flush(self) -> bytes:
        """The upstream's last frame, if whole, translated."""
        flushed = self._cleaner.flush()
        return self._translator.feed(flushed) if flushed else b""

    def finish(self) -> bytes:
        """The closing events, or an error frame when the upstream stopped early."""
        flushed = self._cleaner.finish()  # the last whole frame, then [DONE]
        if self._cleaner.complete:
            return self._translator.feed(flushed) + self._translator.finish()
        flushed = flushed.removesuffix(DONE_FRAME)  # [DONE] would close it cleanly
        return self._translator.feed(flushed) + self._translator.error_tail(TRUNCATED)

    def error_tail(self, message: str) -> bytes:
        self._cleaner.error_tail(message)  # closes it
        return self._translator.error_tail(message)
