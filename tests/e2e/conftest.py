"""Whole-gateway fixtures: the real core (open_core) in front of the scripted FakeProvider.

`gateway_factory(**options)` starts a FakeProvider, writes a config naming it as
provider `mock` with a small priced catalog, and opens the real core on
127.0.0.1:0 with the key in `ORCA_KEY_MOCK` and a fixed local token. No other
provider has a key (the keyring service is a throwaway one). `server_extra` adds
lines to `[server]` (timeouts); `Gateway.restart()` closes the core and opens a
new one on the same config and data dir.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
import pytest_asyncio

from orca_desktop.app import Options, open_core
from orca_desktop.core import Core
from tests.fake_provider import FakeProvider

TOKEN = "sk-orca-test-" + "t" * 24
PROVIDER_KEY = "sk-mock-" + uuid.uuid4().hex

ROUTED_HEADERS = (
    "x-orca-request-id",
    "x-orca-overhead-ms",
    "x-orca-byok",
    "x-orca-provider",
    "x-orca-model",
    "x-orca-route",
)
"""Headers every routed answer carries (PRODUCT.md, HTTP surface)."""


def openai_client(gw: Gateway) -> openai.AsyncOpenAI:
    """The official SDK pointed at the gateway with the local token; no SDK retries."""
    return openai.AsyncOpenAI(base_url=gw.base_url, api_key=TOKEN, max_retries=0)


MODELS = """
[[models]]
id = "fake-small"
provider = "mock"
input_price = 0.15
output_price = 0.60
context_window = 128000
max_output_tokens = 16000
capabilities = ["tools", "json_schema"]

[[models]]
id = "fake-large"
provider = "mock"
input_price = 2.50
output_price = 10.00
cached_input_price = 1.25
context_window = 200000
max_output_tokens = 16000
capabilities = ["tools", "vision", "json_schema", "reasoning"]

[[models]]
id = "fake-mid"
provider = "mock"
input_price = 0.50
output_price = 2.00
context_window = 128000
capabilities = ["tools"]
"""


@dataclass
class Gateway:
    core: Core
    fake: FakeProvider
    data_dir: Path
    config_path: Path
    _core_stack: AsyncExitStack = field(default_factory=AsyncExitStack, repr=False)

    async def close(self) -> None:
        """Close the core: listener, provider sessions, store flush."""
        await self._core_stack.aclose()

    async def restart(self) -> None:
        """A new core on the same config and data dir (a new port, too)."""
        await self.close()
        self.core, self._core_stack = await _open(self.config_path, self.data_dir)

    @property
    def base_url(self) -> str:
        return self.core.base_url

    @property
    def root(self) -> str:
        return self.core.base_url.removesuffix("/v1")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    async def records(self, count: int = 1, *, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The newest records from /orca/v1/requests, newest first, once `count` exist
        (a record is published just after the response's last byte)."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(headers=self.auth) as http:
            while True:
                async with http.get(f"{self.root}/orca/v1/requests?limit=500") as resp:
                    assert resp.status == 200
                    data: list[dict[str, Any]] = (await resp.json())["data"]
                if len(data) >= count or time.monotonic() > deadline:
                    return data
                await asyncio.sleep(0.01)

    async def stats(self) -> dict[str, Any]:
        async with aiohttp.ClientSession(headers=self.auth) as http:
            async with http.get(f"{self.root}/orca/v1/stats") as resp:
                assert resp.status == 200
                stats: dict[str, Any] = await resp.json()
                return stats


GatewayFactory = Callable[..., Awaitable[Gateway]]


def write_config(
    path: Path,
    fake_url: str,
    extra: str = "",
    models: str = MODELS,
    reference: str = "fake-large",
    server_extra: str = "",
) -> None:
    """The test config; `{fake_url}` in `extra` becomes the fake provider's /v1 address."""
    extra = extra.replace("{fake_url}", fake_url)
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0
{server_extra}

[providers.mock]
kind = "openai-compatible"
base_url = "{fake_url}"
models = ["fake-small", "fake-large", "fake-mid"]

[routing]
reference_model = "{reference}"
{models}
{extra}
""",
        encoding="utf-8",
    )


async def _open(config_path: Path, data_dir: Path) -> tuple[Core, AsyncExitStack]:
    stack = AsyncExitStack()
    core = await stack.enter_async_context(
        open_core(Options(config_path=config_path, data_dir=data_dir))
    )
    return core, stack


@pytest.fixture
def gateway_env(monkeypatch: pytest.MonkeyPatch, test_secrets: Any) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("ORCA_KEY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ORCA_KEY_MOCK", PROVIDER_KEY)
    monkeypatch.setenv("ORCA_DESKTOP_TOKEN", TOKEN)
    monkeypatch.setenv("ORCA_KEYRING_SERVICE", f"orca-desktop-test-{uuid.uuid4().hex[:8]}")
    test_secrets.add(PROVIDER_KEY)
    test_secrets.add(TOKEN)


@pytest_asyncio.fixture
async def gateway_factory(tmp_path: Path, gateway_env: None) -> AsyncIterator[GatewayFactory]:
    async with AsyncExitStack() as stack:

        async def start(
            *,
            extra: str = "",
            models: str = MODELS,
            reference: str = "fake-large",
            server_extra: str = "",
            require_key: bool = True,
            **fake_options: Any,
        ) -> Gateway:
            fake = await stack.enter_async_context(
                FakeProvider(require_key=PROVIDER_KEY if require_key else None, **fake_options)
            )
            config_path = tmp_path / "config.toml"
            write_config(config_path, fake.base_url, extra, models, reference, server_extra)
            data_dir = tmp_path / "data"
            core, core_stack = await _open(config_path, data_dir)
            gw = Gateway(core, fake, data_dir, config_path, core_stack)
            stack.push_async_callback(gw.close)
            return gw

        yield start


@pytest_asyncio.fixture
async def gateway(gateway_factory: GatewayFactory) -> Gateway:
    return await gateway_factory()
