"""Whole-gateway fixtures: the real core (open_core) in front of the scripted FakeProvider.

`gateway_factory(**options)` starts a FakeProvider, writes a config naming it as
provider `mock` with a small priced catalog, and opens the real core on
127.0.0.1:0 with the key in `ORCA_KEY_MOCK` and a fixed local token. No other
provider has a key (the keyring service is a throwaway one).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from orca_desktop.app import Core, Options, open_core
from tests.fake_provider import FakeProvider

TOKEN = "sk-orca-test-" + "t" * 24
PROVIDER_KEY = "sk-mock-" + uuid.uuid4().hex

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

    @property
    def base_url(self) -> str:
        return self.core.base_url

    @property
    def root(self) -> str:
        return self.core.base_url.removesuffix("/v1")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


GatewayFactory = Callable[..., Awaitable[Gateway]]


def write_config(path: Path, fake_url: str, extra: str = "", models: str = MODELS,
                 reference: str = "fake-large") -> None:
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0

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

        async def start(*, extra: str = "", models: str = MODELS, reference: str = "fake-large",
                        require_key: bool = True, **fake_options: Any) -> Gateway:
            fake = await stack.enter_async_context(
                FakeProvider(require_key=PROVIDER_KEY if require_key else None, **fake_options)
            )
            config_path = tmp_path / "config.toml"
            write_config(config_path, fake.base_url, extra, models, reference)
            data_dir = tmp_path / "data"
            core = await stack.enter_async_context(
                open_core(Options(config_path=config_path, data_dir=data_dir))
            )
            return Gateway(core, fake, data_dir, config_path)

        yield start


@pytest_asyncio.fixture
async def gateway(gateway_factory: GatewayFactory) -> Gateway:
    return await gateway_factory()
