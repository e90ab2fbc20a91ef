"""The Anthropic adapter: the native Messages API, plus Anthropic's OpenAI-compatible chat.

`AnthropicProvider` POSTs `/v1/messages` bodies as they are (with `x-api-key`,
`anthropic-version` and any `anthropic-beta` the client sent) and, for
requests that arrive as OpenAI chat completions, uses Anthropic's
OpenAI-compatible `/v1/chat/completions` through the OpenAI-compatible
adapter it extends. The configured `base_url` works with or without `/v1`.
Bodies are bytes; this module never parses or re-serialises them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

from aiohttp import ClientResponse
from yarl import URL

from orca_desktop.config import ServerConfig
from orca_desktop.providers.base import ProviderSpec
from orca_desktop.providers.openai_compat import OpenAICompatProvider

if TYPE_CHECKING:
    from orca_desktop.keystore import Secret

DEFAULT_VERSION = "2023-06-01"
"""`anthropic-version` sent when the client named none."""

PASSED_HEADERS = ("anthropic-version", "anthropic-beta")
"""Client headers forwarded to Anthropic as they are."""


def api_root(base_url: str) -> str:
    """The `.../v1` root of an Anthropic base URL given with or without `/v1`."""
    base = base_url.rstrip("/")
    return base if base.endswith("/v1") else f"{base}/v1"


class AnthropicProvider(OpenAICompatProvider):
    """Calls `{root}/messages` natively and `{root}/chat/completions` for OpenAI bodies."""

    def __init__(self, spec: ProviderSpec, server: ServerConfig) -> None:
        super().__init__(dataclasses.replace(spec, base_url=api_root(spec.base_url)), server)
        self._messages_url = URL(f"{self.spec.base_url}/messages")

    def _native_headers(
        self, key: Secret | None, client: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "anthropic-version": DEFAULT_VERSION,
        }
        for name in PASSED_HEADERS:
            value = client.get(name) if client is not None else None
            if value:
                headers[name] = value
        if key is not None:
            headers["x-api-key"] = key.reveal()
        return headers

    def send_messages(
        self, payload: bytes, key: Secret | None, headers: Mapping[str, str] | None = None
    ) -> Awaitable[ClientResponse]:
        """POST an Anthropic Messages body; returns once the response headers arrived.

        `headers` are the client's; only `anthropic-version` and `anthropic-beta` are used.
        """
        return self._http().post(
            self._messages_url, data=payload, headers=self._native_headers(key, headers)
        )

    def _models_headers(self, key: Secret | None) -> dict[str, str]:
        return self._native_headers(key)
