"""What an inbound dialect is to the exchange engine: a sans-I/O codec.

One codec per API a client can speak (chat completions in gateway/chat.py,
Anthropic Messages in gateway/messages.py). The engine (gateway/exchange.py)
does everything else — routing, attempts, fallback, cool-downs, headers,
accounting, the record — the same way for every dialect. A codec never does
I/O and keeps no per-request state.

For each candidate the engine compares the codec's `api` with the serving
provider's: the same API means pass-through (the client's body with `model`
replaced; the answer and stream as the provider sent them, through
`native_stream`); another API means translation: `to_chat` gives the internal
chat form, the provider's outbound adapter (gateway/outbound.py) makes its
native request and turns its answer and stream back into chat, and
`chat_answer` / `chat_stream` put that into the client's dialect.
"""

from __future__ import annotations

from typing import Any, Protocol

from orca_desktop.gateway.upstream import StreamFilter

__all__ = ["Codec"]


class Codec(Protocol):
    endpoint: str
    """The record's `endpoint`, e.g. "/v1/chat/completions"."""
    api: str
    """The provider API this dialect is ("chat" or "messages"): served natively there."""

    def validate(self, body: dict[str, Any]) -> None:
        """Raise ApiError(400) for what the real API would refuse, worded as it words it."""
        ...

    def ask_for_usage(self, body: dict[str, Any], forward: dict[str, Any], stream: bool) -> bool:
        """Make a native upstream report usage (editing `forward`); True when the
        client wants usage in its stream too."""
        ...

    def to_chat(self, forward: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
        """The internal chat completions form of the request (a new dict); names of
        what has no counterpart are appended to `dropped`."""
        ...

    def native_usage(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """OpenAI-shaped usage of a native JSON answer (what pricing reads)."""
        ...

    def native_stream(self, served_model: str, keep_usage: bool) -> StreamFilter:
        """The filter for a native stream (cleaning, facts; the dialect unchanged)."""
        ...

    def chat_answer(self, chat: dict[str, Any], served_model: str) -> bytes:
        """A `chat.completion` as the client's JSON answer."""
        ...

    def chat_stream(self, upstream: StreamFilter, served_model: str) -> StreamFilter:
        """`upstream` (native stream → chat chunks) extended to the client's dialect."""
        ...

    def chat_keeps_usage(self, keep_usage: bool) -> bool:
        """Whether the chat stream handed to `chat_stream` must keep its usage frame."""
        ...

    def error_body(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> bytes:
        """An error in the dialect's shape."""
        ...

    def refusal_body(self, status: int, raw: bytes, parsed: object, message: str) -> bytes:
        """A provider's own refusal (`raw`, `parsed` when JSON) in the dialect's shape;
        `message` is the gateway's one-line account of it."""
        ...
