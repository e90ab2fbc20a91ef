"""`X-Orca-BYOK` is true only when a key of the user's served the request.

A keyless local provider (configured, no key stored or in the environment)
and demo mode's simulated providers are reachable without a key: their
answers, records and `/v1/models` items say BYOK false. The window's BYOK
column shows the record's `byok`, so it follows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from orca_desktop.app import Options, open_core
from tests.e2e.conftest import PROVIDER_KEY, TOKEN, Gateway, GatewayFactory
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio

HI: list[Any] = [{"role": "user", "content": "hi"}]
LOCAL = (
    '[providers.ollama]\nbase_url = "{fake_url}"\nmodels = ["llama-local"]\n\n'
    '[[models]]\nid = "llama-local"\nprovider = "ollama"\ninput_price = 0\n'
    "output_price = 0\ncontext_window = 8192\n"
)


async def models_by_id(base_url: str) -> dict[str, dict[str, Any]]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        async with http.get(f"{base_url}/models") as resp:
            assert resp.status == 200
            return {m["id"]: m for m in (await resp.json())["data"]}


async def ask(gw: Gateway, model: str, *, stream: bool = False) -> dict[str, str]:
    """The routed answer's headers; a stream is read to its end."""
    async with openai.AsyncOpenAI(base_url=gw.base_url, api_key=TOKEN, max_retries=0) as oa:
        if stream:
            async with oa.chat.completions.with_streaming_response.create(
                model=model, messages=HI, stream=True
            ) as resp:
                async for _ in resp.iter_lines():
                    pass
                return dict(resp.headers)
        raw = await oa.chat.completions.with_raw_response.create(model=model, messages=HI)
        return dict(raw.headers)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_keyless_local_provider_is_not_byok(
    gateway_factory: GatewayFactory, stream: bool
) -> None:
    gw = await gateway_factory(require_key=False, extra=LOCAL)
    gw.fake.script("llama-local", Reply(content="local"))
    gw.fake.script("fake-small", Reply(content="keyed"))
    local = await ask(gw, "llama-local", stream=stream)
    assert local["x-orca-provider"] == "ollama" and local["x-orca-byok"] == "false"
    assert gw.fake.received_for("llama-local")[0].authorization is None
    keyed = await ask(gw, "fake-small", stream=stream)  # the mock provider has a key
    assert keyed["x-orca-provider"] == "mock" and keyed["x-orca-byok"] == "true"
    keyed_record, local_record = await gw.records(2)
    assert local_record["id"] == local["x-orca-request-id"] and local_record["byok"] is False
    assert keyed_record["id"] == keyed["x-orca-request-id"] and keyed_record["byok"] is True
    models = await models_by_id(gw.base_url)
    assert (models["llama-local"]["provider"], models["llama-local"]["byok"]) == ("ollama", False)
    assert models["fake-small"]["byok"] is True


async def test_a_local_provider_with_the_users_key_is_byok(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCA_KEY_OLLAMA", PROVIDER_KEY)  # e.g. an Ollama behind an auth proxy
    gw = await gateway_factory(extra=LOCAL)
    gw.fake.script("llama-local", Reply(content="local"))
    headers = await ask(gw, "llama-local")
    assert headers["x-orca-provider"] == "ollama" and headers["x-orca-byok"] == "true"
    assert gw.fake.received_for("llama-local")[0].bearer == PROVIDER_KEY
    assert (await gw.records())[0]["byok"] is True
    assert (await models_by_id(gw.base_url))["llama-local"]["byok"] is True


async def test_demo_mode_is_not_byok(tmp_path: Path, gateway_env: None) -> None:
    options = Options(
        config_path=tmp_path / "none.toml", data_dir=tmp_path / "data", port=0, demo=True
    )
    async with open_core(options) as core:
        models = await models_by_id(core.base_url)
        assert models and all(m["byok"] is False for m in models.values())
        async with openai.AsyncOpenAI(base_url=core.base_url, api_key=TOKEN, max_retries=2) as oa:
            raw = await oa.chat.completions.with_raw_response.create(model="auto", messages=HI)
        assert raw.headers["x-orca-provider"].startswith("demo-")
        assert raw.headers["x-orca-byok"] == "false"
        record = await record_of(core.base_url, raw.headers["x-orca-request-id"])
        assert record["byok"] is False
        # a real model in demo mode: the 424 says it is demo mode, not only "set a key"
        async with openai.AsyncOpenAI(base_url=core.base_url, api_key=TOKEN, max_retries=0) as oa:
            with pytest.raises(openai.APIStatusError) as info:
                await oa.chat.completions.create(model="gpt-4o", messages=HI)
        assert info.value.status_code == 424
        assert "demo mode serves only its simulated models" in info.value.message
        assert "orca-desktop keys set openai" in info.value.message


async def record_of(base_url: str, request_id: str) -> dict[str, Any]:
    """The request's record, once published (just after the response's last byte)."""
    root = base_url.removesuffix("/v1")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for _ in range(500):
            async with http.get(f"{root}/orca/v1/requests?limit=10") as resp:
                records = {r["id"]: r for r in (await resp.json())["data"]}
            if request_id in records:
                return records[request_id]
            await asyncio.sleep(0.01)
    raise AssertionError(f"no record {request_id}")
