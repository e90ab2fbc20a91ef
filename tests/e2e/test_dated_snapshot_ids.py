"""Dated snapshot ids through the gateway: the catalog entry routes, the provider gets the date.

Claude Code sends `claude-sonnet-4-5-20250929`, OpenAI users `gpt-4o-2024-08-06`
(or `openai/gpt-4o-2024-08-06`). The `openai` and `anthropic` presets are aimed
at the fake provider, each with its own key; the catalog knows only the base ids.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from tests.e2e.conftest import PROVIDER_KEY, TOKEN, Gateway, GatewayFactory, write_config
from tests.fake_provider import Reply

pytestmark = [
    pytest.mark.asyncio,
    # the anthropic SDK warns about the snapshots Claude Code still sends; so be it
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

OPENAI_KEY = "sk-openai-fake-" + uuid.uuid4().hex
ANTHROPIC_KEY = "sk-ant-fake-" + uuid.uuid4().hex
HI: list[Any] = [{"role": "user", "content": "hi"}]
PRESETS_ON_THE_FAKE = """
[providers.openai]
base_url = "{fake_url}"

[providers.anthropic]
base_url = "{fake_root}"
"""


@pytest.fixture(autouse=True)
def _no_sdk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


async def with_keys(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> Gateway:
    """The usual gateway plus the openai and anthropic presets on the fake, with keys."""
    monkeypatch.setenv("ORCA_KEY_OPENAI", test_secrets.add(OPENAI_KEY))
    monkeypatch.setenv("ORCA_KEY_ANTHROPIC", test_secrets.add(ANTHROPIC_KEY))
    gw = await gateway_factory(require_key=False)
    return await with_extra(gw, PRESETS_ON_THE_FAKE)


async def with_extra(gw: Gateway, extra: str) -> Gateway:
    """Rewrite the config with `extra` (it needs the fake's address) and restart."""
    extra = extra.replace("{fake_root}", gw.fake.url)
    write_config(gw.config_path, gw.fake.base_url, extra=extra)
    await gw.restart()
    return gw


def openai_sdk(gw: Gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gw.base_url, api_key=TOKEN, max_retries=0)


def anthropic_sdk(gw: Gateway) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gw.root, api_key=TOKEN, max_retries=0)


async def model_ids(gw: Gateway) -> set[str]:
    async with aiohttp.ClientSession(headers=gw.auth) as http:
        async with http.get(f"{gw.base_url}/models") as resp:
            return {m["id"] for m in (await resp.json())["data"]}


def names_the_entry(record: dict[str, Any], entry: str, provider: str) -> None:
    """The record's decision is about the catalog entry, served by its own provider."""
    assert record["status"] == 200 and record["provider"] == provider
    assert record["router"] == "pinned" and record["strategy"] == "direct"
    assert [(c["model"], c["provider"]) for c in record["candidates"]] == [(entry, provider)]
    assert [(a["model"], a["provider"]) for a in record["attempts"]] == [(entry, provider)]


@pytest.mark.parametrize("requested", ["gpt-4o-2024-08-06", "openai/gpt-4o-2024-08-06"])
async def test_openai_sdk_with_a_dated_id_reaches_the_snapshot_at_the_entrys_price(
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
    requested: str,
) -> None:
    gw = await with_keys(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script("gpt-4o-2024-08-06", Reply(content="snapshot", prompt_tokens=40))
    gw.fake.script("gpt-4o", Reply(content="alias", prompt_tokens=40))
    async with openai_sdk(gw) as oa:
        raw = await oa.chat.completions.with_raw_response.create(model=requested, messages=HI)
        plain = await oa.chat.completions.create(model="gpt-4o", messages=HI)
    completion = raw.parse()
    assert completion.choices[0].message.content == "snapshot"
    assert completion.model == "gpt-4o-2024-08-06"  # as the provider reported it
    assert plain.choices[0].message.content == "alias"
    sent = gw.fake.received_for("gpt-4o-2024-08-06")
    assert len(sent) == 1 and sent[0].path == "/v1/chat/completions"
    assert sent[0].bearer == OPENAI_KEY
    assert raw.headers["x-orca-provider"] == "openai" and raw.headers["x-orca-byok"] == "true"
    assert raw.headers["x-orca-route"] == "pinned/direct"
    assert raw.headers["x-orca-model"] == "gpt-4o-2024-08-06"  # what the provider was asked for
    plain_record, record = await gw.records(2)
    assert record["id"] == raw.headers["x-orca-request-id"]
    assert record["requested_model"] == requested and record["model"] == "gpt-4o-2024-08-06"
    names_the_entry(record, "gpt-4o", "openai")
    assert record["cost_usd"] > 0 and record["cost_usd"] == plain_record["cost_usd"]
    assert "gpt-4o" in await model_ids(gw)
    assert requested not in await model_ids(gw)  # /v1/models lists base ids only


@pytest.mark.parametrize(
    ("requested", "entry"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        # the entry's own provider-side name (its upstream id), Claude Code's Sonnet 4
        ("claude-sonnet-4-20250514", "claude-sonnet-4-0"),
    ],
)
async def test_anthropic_sdk_with_claude_codes_dated_ids(
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
    requested: str,
    entry: str,
) -> None:
    gw = await with_keys(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script(requested, Reply(content="from the snapshot", completion_tokens=4))
    async with anthropic_sdk(gw) as an:
        raw = await an.messages.with_raw_response.create(
            model=requested, max_tokens=64, messages=HI
        )
    message = await raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "from the snapshot"
    assert message.model == requested
    (sent,) = gw.fake.received_for(requested)
    assert sent.path == "/v1/messages" and sent.api_key == ANTHROPIC_KEY
    assert raw.headers["x-orca-provider"] == "anthropic" and raw.headers["x-orca-byok"] == "true"
    assert raw.headers["x-orca-model"] == requested
    record = (await gw.records())[0]
    assert record["endpoint"] == "/v1/messages" and record["requested_model"] == requested
    names_the_entry(record, entry, "anthropic")
    assert record["cost_usd"] > 0


async def test_anthropic_sdk_stream_with_a_dated_id(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, test_secrets: Any
) -> None:
    gw = await with_keys(gateway_factory, monkeypatch, test_secrets)
    requested = "claude-sonnet-4-5-20250929"
    gw.fake.script(requested, Reply(content="one two three", chunks=3))
    async with anthropic_sdk(gw) as an:
        async with an.messages.stream(model=requested, max_tokens=64, messages=HI) as stream:
            text = "".join([t async for t in stream.text_stream])
    assert text == "one two three"
    (sent,) = gw.fake.received_for(requested)
    assert sent.body["stream"] is True and sent.path == "/v1/messages"
    record = (await gw.records())[0]
    assert record["stream"] is True
    names_the_entry(record, "claude-sonnet-4-5", "anthropic")


async def test_an_exact_catalog_id_that_looks_dated_keeps_its_own_entry(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCA_KEY_SNAP", PROVIDER_KEY)
    gw = await gateway_factory(
        extra=(
            '[providers.snap]\nbase_url = "{fake_url}"\n\n'
            '[[models]]\nid = "fake-small-2025-01-01"\nprovider = "snap"\n'
            'upstream_id = "fake-pinned-build"\ninput_price = 1\noutput_price = 2\n'
            "context_window = 128000\n"
        )
    )
    gw.fake.script("fake-pinned-build", Reply(content="own entry"))
    gw.fake.script("fake-small-2025-01-02", Reply(content="dated fake-small"))
    async with openai_sdk(gw) as oa:
        exact = await oa.chat.completions.create(model="fake-small-2025-01-01", messages=HI)
        dated = await oa.chat.completions.create(model="fake-small-2025-01-02", messages=HI)
    assert exact.choices[0].message.content == "own entry"
    assert dated.choices[0].message.content == "dated fake-small"
    assert gw.fake.received_for("fake-pinned-build")[0].bearer == PROVIDER_KEY
    newer, older = await gw.records(2)
    assert older["candidates"][0]["model"] == "fake-small-2025-01-01"
    assert older["provider"] == "snap"
    assert newer["candidates"][0]["model"] == "fake-small" and newer["provider"] == "mock"


async def test_through_a_hosted_router_the_catalog_id_is_asked_for(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No openai key: the hosted router, which names models by catalog id, gets `gpt-4o`."""
    monkeypatch.setenv("ORCA_KEY_ORCAROUTER", PROVIDER_KEY)
    gw = await gateway_factory(extra='[providers.orcarouter]\nbase_url = "{fake_url}"')
    gw.fake.script("gpt-4o", Reply(content="via the hosted router"))
    async with openai_sdk(gw) as oa:
        raw = await oa.chat.completions.with_raw_response.create(
            model="gpt-4o-2024-08-06", messages=HI
        )
    assert raw.parse().choices[0].message.content == "via the hosted router"
    assert raw.headers["x-orca-provider"] == "orcarouter" and raw.headers["x-orca-byok"] == "false"
    assert gw.fake.received_for("gpt-4o")[0].bearer == PROVIDER_KEY
    assert gw.fake.received_for("gpt-4o-2024-08-06") == []
    record = (await gw.records())[0]
    assert record["requested_model"] == "gpt-4o-2024-08-06" and record["byok"] is False
    assert record["candidates"][0]["model"] == "gpt-4o"


async def test_a_dated_id_whose_provider_has_no_key_is_424(gateway: Gateway) -> None:
    async with openai_sdk(gateway) as oa:
        with pytest.raises(openai.APIStatusError) as info:
            await oa.chat.completions.create(model="gpt-4o-2024-08-06", messages=HI)
    assert info.value.status_code == 424
    assert "orca-desktop keys set openai" in info.value.message


@pytest.mark.parametrize(
    ("requested", "hint"),
    [
        ("gpt-4o-2024-13-06", None),  # month 13: not a date, and no close match
        ("fake-smal-20250101", "fake-small"),  # a date, but no entry: close matches as ever
        ("fake-small-2025092", "fake-small"),  # seven digits: not a date
    ],
)
async def test_unknown_ids_stay_404_with_close_matches(
    gateway: Gateway, requested: str, hint: str | None
) -> None:
    async with openai_sdk(gateway) as oa:
        with pytest.raises(openai.NotFoundError) as info:
            await oa.chat.completions.create(model=requested, messages=HI)
    message = info.value.message
    assert f"unknown model {requested!r}" in message
    if hint is None:
        assert "did you mean" not in message
    else:
        assert f"did you mean: {hint}" in message
    assert gateway.fake.requests == []


async def test_unknown_dated_claude_id_is_anthropics_404(gateway: Gateway) -> None:
    async with anthropic_sdk(gateway) as an:
        with pytest.raises(anthropic.NotFoundError) as info:
            await an.messages.create(model="claude-nope-20250929", max_tokens=8, messages=HI)
    assert info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert "unknown model 'claude-nope-20250929'" in info.value.message
