"""A model whose own provider has no key goes through a hosted router (X-Orca-BYOK: false)."""

from __future__ import annotations

import aiohttp
import openai
import pytest

from tests.e2e.conftest import PROVIDER_KEY, TOKEN, GatewayFactory
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio


async def test_unkeyed_model_goes_through_the_hosted_router(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCA_KEY_ORCAROUTER", PROVIDER_KEY)
    # the orcarouter preset, aimed at the fake instead of api.orcarouter.ai
    gw = await gateway_factory(extra='[providers.orcarouter]\nbase_url = "{fake_url}"')
    gw.fake.script("gpt-4o", Reply(content="via the hosted router", served_model="gpt-4o"))
    async with openai.AsyncOpenAI(base_url=gw.base_url, api_key=TOKEN, max_retries=0) as oa:
        raw = await oa.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert raw.parse().choices[0].message.content == "via the hosted router"
    assert raw.headers["x-orca-byok"] == "false"
    assert raw.headers["x-orca-provider"] == "orcarouter"
    received = gw.fake.received_for("gpt-4o")[0]
    assert received.bearer == PROVIDER_KEY and received.body["model"] == "gpt-4o"

    async with aiohttp.ClientSession(headers=gw.auth) as http:
        async with http.get(f"{gw.base_url}/models") as resp:
            models = {m["id"]: m for m in (await resp.json())["data"]}
    assert models["gpt-4o"]["byok"] is False and models["gpt-4o"]["provider"] == "orcarouter"
    assert models["fake-small"]["byok"] is True


async def test_a_configured_local_provider_needs_no_key(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(
        require_key=False,
        extra=(
            '[providers.ollama]\nbase_url = "{fake_url}"\nmodels = ["llama-local"]\n\n'
            '[[models]]\nid = "llama-local"\nprovider = "ollama"\ninput_price = 0\n'
            "output_price = 0\ncontext_window = 8192\n"
        ),
    )
    gw.fake.script("llama-local", Reply(content="local answer"))
    async with openai.AsyncOpenAI(base_url=gw.base_url, api_key=TOKEN, max_retries=0) as oa:
        raw = await oa.chat.completions.with_raw_response.create(
            model="llama-local", messages=[{"role": "user", "content": "hi"}]
        )
    assert raw.parse().choices[0].message.content == "local answer"
    assert raw.headers["x-orca-provider"] == "ollama"
    assert gw.fake.received_for("llama-local")[0].authorization is None  # no key to send
