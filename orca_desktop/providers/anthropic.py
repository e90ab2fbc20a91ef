"""The Anthropic adapter: the native Messages API, and nothing else.

`AnthropicProvider` POSTs `/v1/messages` bodies (with `x-api-key`,
`anthropic-version` and the `anthropic-beta` values the client sent plus any a
translated body needs). It never calls Anthropic's OpenAI-compatible endpoint:
that beta lacks prompt caching and parts of thinking and tools, and
Anthropic-compatible third-party servers do not have it at all. Requests that
arrive in another dialect are translated by the gateway before they get here
(`gateway/outbound.py`). The configured `base_url` works with or without `/v1`.
Bodies are bytes; this module never parses or re-serialises them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING

from orca_desktop.config import ServerConfig
from orca_desktop.providers.base import ProviderSpec
from orca_desktop.providers.http1 import Response, Target
from orca_desktop.providers.openai_compat import PooledProvider

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


class AnthropicProvider(PooledProvider):
    """Calls `{root}/messages` (and `{root}/models` for `keys test`)."""

    api = "messages"

    def __init__(self, spec: ProviderSpec, server: ServerConfig) -> None:
        super().__init__(dataclasses.replace(spec, base_url=api_root(spec.base_url)), server)
        self._messages_url = Target.parse(f"{self.spec.base_url}/messages")
        self._native_cache: tuple[tuple[str | None, ...], bytes] = ((), b"")

    def _native_headers(
        self,
        key: Secret | None,
        client: Mapping[str, str] | None = None,
        betas: Sequence[str] = (),
    ) -> bytes:
        passed = [client.get(name) if client is not None else None for name in PASSED_HEADERS]
        if betas:
            given = passed[1] or ""
            have = {b.strip() for b in given.split(",") if b.strip()}
            extra = [b for b in betas if b not in have]
            if extra:
                passed[1] = ",".join(([given] if given else []) + extra)
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

    def send(
        self,
        payload: bytes,
        key: Secret | None,
        client_headers: Mapping[str, str] | None = None,
        betas: Sequence[str] = (),
    ) -> Awaitable[Response]:
        """POST an Anthropic Messages body; returns once the response headers arrived.

        Of `client_headers` only `anthropic-version` and `anthropic-beta` are used;
        `betas` (what a translated body needs) join the client's `anthropic-beta`.
        """
        return self._http().request(
            "POST", self._messages_url, self._native_headers(key, client_headers, betas), payload
        )

    def _models_headers(self, key: Secret | None) -> bytes:
        return self._native_headers(key)
