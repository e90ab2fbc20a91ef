"""POST /v1/messages: the Anthropic Messages codec (Claude Code, the Anthropic SDKs).

Served natively by `anthropic` providers: the body passes through with only
`model` replaced (unknown fields, `role: "system"` turns and the
`anthropic-version` / `anthropic-beta` headers kept) and their events are
forwarded frame by frame as they complete. For every other provider it is
translated to the internal chat form (what has no counterpart is dropped and
named in the record's `dropped`) and the chat answer and stream are turned
back into a Messages answer and Anthropic's events. Errors use Anthropic's shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from orca_desktop.gateway._messages_stream import (
    AnthropicPassthrough,
    TranslatedStream,
    openai_usage,
)
from orca_desktop.gateway.context import CONTEXT
from orca_desktop.gateway.upstream import StreamFilter
from orca_desktop.routing import requirements_of
from orca_desktop.wire.anthropic import (
    anthropic_to_openai_request,
    openai_to_anthropic_response,
    validate_messages_request,
)
from orca_desktop.wire.errors import ApiError, anthropic_error_body
from orca_desktop.wire.openai import parse_json_body

__all__ = ["MESSAGES", "MessagesCodec", "handle_count_tokens"]


class MessagesCodec:
    """Anthropic Messages in and out (see gateway/codec.py for the protocol)."""

    endpoint = "/v1/messages"
    api = "messages"

    def validate(self, body: dict[str, Any]) -> None:
        validate_messages_request(body)

    def ask_for_usage(self, body: dict[str, Any], forward: dict[str, Any], stream: bool) -> bool:
        # Anthropic streams always carry usage; the chat translation asks for it itself
        return True

    def to_chat(self, forward: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
        return anthropic_to_openai_request(forward, dropped=dropped)

    def native_usage(self, data: dict[str, Any]) -> dict[str, Any] | None:
        return openai_usage(data.get("usage"))

    def native_stream(self, served_model: str, keep_usage: bool) -> StreamFilter:
        return AnthropicPassthrough(served_model=served_model)

    def chat_answer(self, chat: dict[str, Any], served_model: str) -> bytes:
        return orjson.dumps(openai_to_anthropic_response(chat, served_model))

    def chat_stream(self, upstream: StreamFilter, served_model: str) -> StreamFilter:
        return TranslatedStream(served_model=served_model, upstream=upstream)

    def chat_keeps_usage(self, keep_usage: bool) -> bool:
        return True  # the translator reports it in message_delta

    def error_body(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> bytes:
        return anthropic_error_body(status, message)

    def refusal_body(self, status: int, raw: bytes, parsed: object, message: str) -> bytes:
        """An Anthropic provider's own error body as it is when it has Anthropic's shape
        (a `type` and a `message`), else `message` in that shape."""
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if (
            isinstance(parsed, dict)
            and parsed.get("type") == "error"
            and isinstance(error, dict)
            and isinstance(error.get("type"), str)
            and isinstance(error.get("message"), str)
        ):
            return raw
        return self.error_body(status, message)


MESSAGES = MessagesCodec()


async def handle_count_tokens(request: web.Request) -> web.Response:
    """POST /v1/messages/count_tokens: an offline estimate, as Claude Code asks before sending.

    The estimate is the router's own (no provider is called, nothing is recorded).
    """
    limit = int(request.app[CONTEXT].config.server.max_body_mb * 1024 * 1024)
    if (request.content_length or 0) > limit:
        return _anthropic_error(413, "request body is too large ([server] max_body_mb)")
    try:
        body = parse_json_body(await request.read())
    except ApiError as exc:
        return _anthropic_error(exc.status, exc.message)
    if not isinstance(body.get("messages"), list):
        return _anthropic_error(400, "messages: required, a list of messages")
    return web.json_response({"input_tokens": requirements_of(body).prompt_tokens})


def _anthropic_error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status, body=anthropic_error_body(status, message), content_type="application/json"
    )
