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

from orca_desktop.config import ServerConfig
from orca_desktop.providers.base import ProviderSpec
from orca_desktop.providers.http1 import Response, Target
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
        self._messages_url = Target.parse(f"{self.spec.base_url}/messages")
        self._native_cache: tuple[tuple[str | None, ...], bytes] = ((), b"")

    def _native_headers(self, key: Secret | None, client: Mapping[str, str] | None = None) -> bytes:
        passed = tuple(client.get(name) if client is not None else None for name in PASSED_HEADERS)
        raw = key.reveal() if key is not None else None
        cache_key = (raw, *passed)
        cached_for, encoded = self._native_cache
        if cached_for == cache_key:
            return encoded
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Accept-Encoding": "identity",
            "anthropic-version": DEFAULT_VERSION,
        }
        for name, value in zip(PASSED_HEADERS, passed, strict=True):
            if value:
                headers[name] = value
        if raw is not None:
            headers["x-api-key"] = raw
        encoded = self._encode(headers)
        self._native_cache = (cache_key, encoded)
        return encoded

    def send_messages(
        self, payload: bytes, key: Secret | None, headers: Mapping[str, str] | None = None
    ) -> Awaitable[Response]:
        """POST an Anthropic Messages body; returns once the response headers arrived.

        `headers` are the client's; only `anthropic-version` and `anthropic-beta` are used.
        """
        return self._http().request(
            "POST", self._messages_url, self._native_headers(key, headers), payload
        )

    def _models_headers(self, key: Secret | None) -> bytes:
        return self._native_headers(key)
