"""Provider adapters' translations: the internal chat form to a provider's own API and back.

The gateway's internal form of a request is an OpenAI chat completions body.
An inbound codec (gateway/chat.py, gateway/messages.py) makes it when a
request must be translated; `outbound_for(api)` turns it into the provider's
native request and the provider's native answer and stream back into the
internal form, with the facts accounting needs. A request whose client
speaks the provider's API never comes here: it is passed through.

Sans-I/O: bodies and bytes in, bodies and bytes out.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from orca_desktop.gateway.sse import StreamCleaner
from orca_desktop.gateway.upstream import StreamFilter
from orca_desktop.routing.router import Candidate
from orca_desktop.wire.chat_to_anthropic import (
    MessagesToChatStream,
    chat_to_messages_request,
    messages_to_chat_response,
    takes_mid_conversation_system,
)

__all__ = ["Outbound", "outbound_for"]

_NOT_DROPPED = frozenset(("stream_options",))
"""Fields a translation leaves out that the client never set for the provider: the
gateway asks for usage itself, and every Anthropic stream carries it."""


class Outbound(Protocol):
    """One provider API as the exchange drives it when translating."""

    api: str

    def request(
        self, chat: dict[str, Any], cand: Candidate, *, cache: bool, dropped: list[str]
    ) -> tuple[bytes, tuple[str, ...]]:
        """(native body, API betas it needs) for the internal chat request `chat`;
        names of what has no counterpart are appended to `dropped`."""
        ...

    def answer(self, data: dict[str, Any], served_model: str) -> dict[str, Any]:
        """A native JSON answer as a `chat.completion`."""
        ...

    def stream(self, served_model: str, keep_usage: bool) -> StreamFilter:
        """A filter from the native stream to chat completion chunks, with the facts."""
        ...


class ChatOutbound:
    """OpenAI chat completions: the internal form is already native."""

    api = "chat"

    def request(
        self, chat: dict[str, Any], cand: Candidate, *, cache: bool, dropped: list[str]
    ) -> tuple[bytes, tuple[str, ...]]:
        chat["model"] = cand.upstream_model
        return orjson.dumps(chat), ()

    def answer(self, data: dict[str, Any], served_model: str) -> dict[str, Any]:
        return data

    def stream(self, served_model: str, keep_usage: bool) -> StreamFilter:
        return StreamCleaner(served_model=served_model, keep_usage=keep_usage)


class MessagesOutbound:
    """Anthropic Messages (PRODUCT.md, "Anthropic providers")."""

    api = "messages"

    def request(
        self, chat: dict[str, Any], cand: Candidate, *, cache: bool, dropped: list[str]
    ) -> tuple[bytes, tuple[str, ...]]:
        names: list[str] = []
        call = chat_to_messages_request(
            chat,
            upstream_model=cand.upstream_model,
            max_output_tokens=cand.model.max_output_tokens,
            mid_system=takes_mid_conversation_system(cand.upstream_model),
            cache=cache,
            dropped=names,
        )
        dropped.extend(n for n in names if n not in _NOT_DROPPED and n not in dropped)
        return orjson.dumps(call.body), call.betas

    def answer(self, data: dict[str, Any], served_model: str) -> dict[str, Any]:
        return messages_to_chat_response(data, served_model=served_model)

    def stream(self, served_model: str, keep_usage: bool) -> StreamFilter:
        return MessagesToChatStream(served_model=served_model, keep_usage=keep_usage)


_OUTBOUND: dict[str, Outbound] = {"chat": ChatOutbound(), "messages": MessagesOutbound()}


def outbound_for(api: str) -> Outbound:
    """The translations for a provider API ("chat" or "messages")."""
    return _OUTBOUND[api]
