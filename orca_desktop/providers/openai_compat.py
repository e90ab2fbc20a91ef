"""The OpenAI-compatible adapter: most providers (and the hosted routers) speak this.

One pooled `ClientSession` per provider, created on first use (after the loop
runs) and closed at shutdown. Bodies are passed as bytes; this module never
parses or re-serialises them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import orjson
from aiohttp import ClientError, ClientResponse, ClientSession, ClientTimeout, TCPConnector
from yarl import URL

from orca_desktop.config import ServerConfig
from orca_desktop.providers.base import ProviderSpec

if TYPE_CHECKING:
    from orca_desktop.keystore import Secret

_JSON = "application/json"


class OpenAICompatProvider:
    """Calls `{base_url}/chat/completions` and `{base_url}/models` with a Bearer key."""

    def __init__(self, spec: ProviderSpec, server: ServerConfig) -> None:
        self.spec = spec
        self._server = server
        self._session: ClientSession | None = None
        # parsed once: a str URL is re-parsed by yarl on every request
        self._chat_url = URL(f"{spec.base_url}/chat/completions")
        self._headers_cache: tuple[str | None, dict[str, str]] = ("", {})

    def _http(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = ClientSession(
                connector=TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300),
                timeout=ClientTimeout(total=None, sock_connect=self._server.connect_timeout_s),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    def _headers(self, key: Secret | None) -> dict[str, str]:
        raw = key.reveal() if key is not None else None
        cached_for, headers = self._headers_cache
        if cached_for != raw:
            headers = {"Content-Type": _JSON, "Accept": "application/json, text/event-stream"}
            if raw:
                headers["Authorization"] = f"Bearer {raw}"
            if self.spec.kind == "openrouter":
                headers["X-Title"] = "Orca Desktop"
            self._headers_cache = (raw, headers)
        return headers

    def send_chat(self, payload: bytes, key: Secret | None) -> Awaitable[ClientResponse]:
        return self._http().post(self._chat_url, data=payload, headers=self._headers(key))

    async def list_models(self, key: Secret | None) -> tuple[int, str]:
        try:
            async with asyncio.timeout(self._server.connect_timeout_s + 10):
                async with self._http().get(
                    f"{self.spec.base_url}/models", headers=self._models_headers(key)
                ) as resp:
                    body = await resp.read()
        except (TimeoutError, OSError, ClientError) as exc:
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

    def _models_headers(self, key: Secret | None) -> dict[str, str]:
        """Headers for the models endpoint (the Anthropic adapter authenticates natively)."""
        return self._headers(key)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
