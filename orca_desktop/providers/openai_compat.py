"""The OpenAI-compatible adapter: most providers (and the hosted routers) speak this.

One keep-alive pool per provider (`http1.HttpClient`), created on first use
(after the loop runs) and closed at shutdown. Bodies are passed as bytes; this
module never parses or re-serialises them. Request headers are encoded once
per key, not per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING

import orjson

from orca_desktop.config import ServerConfig
from orca_desktop.providers.base import ProviderSpec
from orca_desktop.providers.http1 import (
    HttpClient,
    Response,
    Target,
    UpstreamError,
    encode_headers,
)

if TYPE_CHECKING:
    from orca_desktop.keystore import Secret

_JSON = "application/json"


class PooledProvider:
    """What every adapter shares: one lazily made keep-alive pool, header encoding that
    never echoes a key, the models endpoint and closing. Subclasses set `api` (the
    provider API their `send` speaks) and implement `send` and `_models_headers`."""

    api = "chat"

    def __init__(self, spec: ProviderSpec, server: ServerConfig) -> None:
        self.spec = spec
        self._server = server
        self._client: HttpClient | None = None

    def _http(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(self._server.connect_timeout_s)
        return self._client

    def _encode(self, headers: dict[str, str]) -> bytes:
        try:
            return encode_headers(headers)
        except ValueError:
            # never echo the header: it holds the key
            raise UpstreamError(
                f"the {self.spec.id} key contains a line break or characters an HTTP "
                "header cannot carry; save it again"
            ) from None

    async def list_models(self, key: Secret | None) -> tuple[int, str]:
        try:
            async with asyncio.timeout(self._server.connect_timeout_s + 10):
                resp = await self._http().request(
                    "GET", Target.parse(f"{self.spec.base_url}/models"), self._models_headers(key)
                )
                try:
                    body = await resp.read()
                finally:
                    resp.release()
        except (TimeoutError, OSError) as exc:
            return 0, f"cannot reach {self.spec.base_url}: {type(exc).__name__}"
        if resp.status == 200:
            try:
                count = len(orjson.loads(body).get("data") or [])
            except (orjson.JSONDecodeError, AttributeError):
                count = 0
            return 200, f"key works: {self.spec.label} lists {count} models"
        if resp.status in (401, 403):
            return resp.status, f"{self.spec.label} rejected the key (HTTP {resp.status})"
        return resp.status, f"{self.spec.label} answered HTTP {resp.status}"

    def _models_headers(self, key: Secret | None) -> bytes:
        """Headers for the models endpoint, authenticated as the provider's API wants."""
        raise NotImplementedError

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class OpenAICompatProvider(PooledProvider):
    """Calls `{base_url}/chat/completions` and `{base_url}/models` with a Bearer key."""

    api = "chat"

    def __init__(self, spec: ProviderSpec, server: ServerConfig) -> None:
        super().__init__(spec, server)
        self._chat_url = Target.parse(f"{spec.base_url}/chat/completions")
        self._headers_cache: tuple[str | None, bytes] = ("", b"")

    def _headers(self, key: Secret | None) -> bytes:
        raw = key.reveal() if key is not None else None
        cached_for, encoded = self._headers_cache
        if cached_for != raw or not encoded:
            headers = {
                "Content-Type": _JSON,
                "Accept": "application/json, text/event-stream",
                # streams must not wait in a compressor; bodies are small
                "Accept-Encoding": "identity",
            }
            if raw:
                headers["Authorization"] = f"Bearer {raw}"
            if self.spec.kind == "openrouter":
                headers["X-Title"] = "Orca Desktop"
            encoded = self._encode(headers)
            self._headers_cache = (raw, encoded)
        return encoded

    def send(
        self,
        payload: bytes,
        key: Secret | None,
        client_headers: Mapping[str, str] | None = None,
        betas: Sequence[str] = (),
    ) -> Awaitable[Response]:
        """POST a chat completions body (the client's headers are not forwarded)."""
        return self._http().request("POST", self._chat_url, self._headers(key), payload)

    send_chat = send

    def _models_headers(self, key: Secret | None) -> bytes:
        return self._headers(key)
