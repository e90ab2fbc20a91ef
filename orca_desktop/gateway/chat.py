"""POST /v1/chat/completions: the OpenAI chat completions codec.

Chat completions is also the engine's internal form, so this codec's
translation is the identity: a chat request to an OpenAI-style provider is
passed through (the client's bytes when nothing changed, usage always asked
for), and to an Anthropic provider the outbound adapter translates the chat
body itself (gateway/outbound.py). Answers from a translated provider already
arrive as chat, so they go out as they are.
"""

from __future__ import annotations

from typing import Any

import orjson

from orca_desktop.gateway.sse import StreamCleaner
from orca_desktop.gateway.upstream import StreamFilter, openai_error_object
from orca_desktop.wire.errors import openai_error_body, openai_type_for
from orca_desktop.wire.openai import check_chat_request

__all__ = ["CHAT", "ChatCodec"]


class ChatCodec:
    """OpenAI chat completions in and out (see gateway/codec.py for the protocol)."""

    endpoint = "/v1/chat/completions"
    api = "chat"

    def validate(self, body: dict[str, Any]) -> None:
        check_chat_request(body)

    def ask_for_usage(self, body: dict[str, Any], forward: dict[str, Any], stream: bool) -> bool:
        """Usage is always asked for upstream; True when the client wants the frame.

        `stream_options` only applies to streams (seed 000), and OpenAI refuses it
        on a request that does not stream: it is not forwarded then."""
        if not stream:
            forward.pop("stream_options", None)
            return False
        options = forward.get("stream_options") or {}
        forward["stream_options"] = {**options, "include_usage": True}
        given = body.get("stream_options")
        return isinstance(given, dict) and given.get("include_usage") is True

    def to_chat(self, forward: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
        return dict(forward)

    def native_usage(self, data: dict[str, Any]) -> dict[str, Any] | None:
        usage = data.get("usage")
        return usage if isinstance(usage, dict) else None

    def native_stream(self, served_model: str, keep_usage: bool) -> StreamFilter:
        return StreamCleaner(served_model=served_model, keep_usage=keep_usage)

    def chat_answer(self, chat: dict[str, Any], served_model: str) -> bytes:
        return orjson.dumps(chat)

    def chat_stream(self, upstream: StreamFilter, served_model: str) -> StreamFilter:
        return upstream

    def chat_keeps_usage(self, keep_usage: bool) -> bool:
        return keep_usage

    def error_body(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> bytes:
        return openai_error_body(status, message, param=param, code=code)

    def refusal_body(self, status: int, raw: bytes, parsed: object, message: str) -> bytes:
        """A provider's error body in OpenAI's shape: its own bytes when they have it,
        its `error` object with the missing keys filled (an Anthropic error's type and
        message kept), else `message` re-shaped."""
        if not isinstance(parsed, dict) or not isinstance(parsed.get("error"), dict):
            return self.error_body(status, message)
        error = parsed["error"]
        shaped = openai_error_object(error, type=openai_type_for(status), message=message)
        if shaped is error and len(parsed) == 1:
            return raw
        return orjson.dumps({"error": shaped})


CHAT = ChatCodec()
