"""POST /v1/messages: the Anthropic Messages API inbound (Claude Code), routed like chat.

`MessagesExchange` is a `ChatExchange` with Anthropic's body, errors and
stream: routing, attempts, fallback, cool-downs, headers and telemetry are
chat's. Per candidate it either passes the body through natively (the serving
provider is an `anthropic` one: model replaced, unknown fields and the
`anthropic-version` / `anthropic-beta` headers kept, events forwarded as they
complete) or translates it to OpenAI chat completions and the answer back
(unknown Anthropic-only fields dropped; usage always requested upstream).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson
from aiohttp import web

from orca_desktop.gateway._messages_stream import (
    AnthropicPassthrough,
    TranslatedStream,
    openai_usage,
)
from orca_desktop.gateway.chat import ChatExchange
from orca_desktop.gateway.context import CONTEXT, GatewayContext
from orca_desktop.gateway.upstream import StreamFilter, UpstreamRefusal
from orca_desktop.providers.anthropic import AnthropicProvider
from orca_desktop.providers.base import Provider
from orca_desktop.providers.http1 import Response as UpstreamResponse
from orca_desktop.routing import requirements_of
from orca_desktop.routing.router import Candidate
from orca_desktop.wire.anthropic import (
    anthropic_to_openai_request,
    openai_to_anthropic_response,
    validate_messages_request,
)
from orca_desktop.wire.errors import ApiError, anthropic_error_body
from orca_desktop.wire.openai import parse_json_body

__all__ = ["MessagesExchange", "handle_count_tokens"]


class MessagesExchange(ChatExchange):
    """One `/v1/messages` request, from body to telemetry record."""

    endpoint = "/v1/messages"

    def __init__(self, ctx: GatewayContext, request: web.Request) -> None:
        super().__init__(ctx, request)
        self._openai_body: dict[str, Any] | None = None  # the translation, made once

    def _validate(self, body: dict[str, Any]) -> None:
        validate_messages_request(body)

    def _ask_for_usage(self, body: dict[str, Any], forward: dict[str, Any], stream: bool) -> bool:
        # Anthropic streams always carry usage; the OpenAI translation asks for it itself
        return True

    def _native(self, cand: Candidate) -> bool:
        """True when `cand` is served by an Anthropic provider through its own API."""
        return isinstance(self.ctx.providers.get(cand.via), AnthropicProvider)

    # -- hooks ------------------------------------------------------------------

    def _payload(self, cand: Candidate, forward: dict[str, Any]) -> bytes:
        if self._native(cand):
            forward["model"] = cand.upstream_model
            return orjson.dumps(forward)
        if self._openai_body is None:
            self._openai_body = anthropic_to_openai_request(forward)
        self._openai_body["model"] = cand.upstream_model
        return orjson.dumps(self._openai_body)

    def _send(
        self, provider: Provider, cand: Candidate, payload: bytes
    ) -> Awaitable[UpstreamResponse]:
        key = self.ctx.keystore.get(cand.via)
        if isinstance(provider, AnthropicProvider):
            return provider.send_messages(payload, key, self.request.headers)
        return provider.send_chat(payload, key)

    def _answer_json(
        self, cand: Candidate, data: dict[str, Any], body: bytes
    ) -> tuple[bytes, Any, Any]:
        if self._native(cand):
            return body, openai_usage(data.get("usage")), data.get("model")
        message = openai_to_anthropic_response(data, cand.upstream_model)
        return orjson.dumps(message), data.get("usage"), data.get("model")

    def _stream_filter(self, cand: Candidate, keep_usage: bool) -> StreamFilter:
        if self._native(cand):
            return AnthropicPassthrough(served_model=cand.upstream_model)
        return TranslatedStream(served_model=cand.upstream_model)

    # -- errors in Anthropic's shape ----------------------------------------------

    def _error_body(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> bytes:
        return anthropic_error_body(status, message)

    def _refusal_body(self, refusal: UpstreamRefusal, parsed: object, message: str) -> bytes:
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
            return refusal.body
        return self._error_body(refusal.status, message)


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
