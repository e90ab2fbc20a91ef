"""Every request in tests/corpus/ replayed through the gateway, natively and translated.

A client that changes what it sends gets a new file in tests/corpus/; this test
picks it up. Natively the provider must get the client's body unchanged except
`model` (unknown fields, system turns and betas kept); translated, every system
text must arrive at its place, every tool as a function, and the record must name
what the translation dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import TOKEN, Gateway, GatewayFactory
from tests.e2e.test_messages_anthropic_sdk import with_anthropic_provider
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio

CORPUS = sorted((Path(__file__).parent.parent / "corpus").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    capture: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return capture


async def _replay(gw: Gateway, capture: dict[str, Any], model: str) -> tuple[int, bytes]:
    body = dict(capture["body"], model=model)
    query = "&".join(f"{k}={v}" for k, v in capture.get("query", {}).items())
    url = f"{gw.root}{capture['path']}" + (f"?{query}" if query else "")
    headers = {k: v for k, v in capture["headers"].items()} | {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, headers=headers) as resp:
            return resp.status, await resp.read()


def _system_texts(body: dict[str, Any]) -> list[str]:
    system = body.get("system") or []
    texts = [system] if isinstance(system, str) else [b["text"] for b in system]
    for message in body["messages"]:
        if message["role"] == "system":
            texts += [b["text"] for b in message["content"] if b.get("text")]
    return texts


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
async def test_a_messages_capture_passes_through_to_anthropic_unchanged(
    path: Path,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
) -> None:
    capture = _load(path)
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script("claude-fake-20250101", Reply(content="hi"))
    status, answer = await _replay(gw, capture, "claude-fake")
    assert status == 200, answer
    assert b"message_stop" in answer or b'"type":"message"' in answer
    (got,) = gw.fake.requests
    assert got.path == "/v1/messages"
    assert got.body == dict(capture["body"], model="claude-fake-20250101")
    for name in ("anthropic-beta", "anthropic-version"):
        assert got.headers[name] == capture["headers"][name]


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
async def test_a_messages_capture_is_translated_for_an_openai_provider_losing_nothing_silently(
    path: Path, gateway_factory: GatewayFactory
) -> None:
    capture = _load(path)
    gw = await gateway_factory()
    gw.fake.script("fake-large", Reply(content="hi"))
    status, answer = await _replay(gw, capture, "fake-large")
    assert status == 200, answer
    (got,) = gw.fake.requests
    assert got.path == "/v1/chat/completions"
    sent = got.body["messages"]
    system_sent = [m["content"] for m in sent if m["role"] == "system"]
    for text in _system_texts(capture["body"]):
        assert any(text in s for s in system_sent), text
    # a mid-conversation system turn keeps its place after the user turn it followed
    roles = [m["role"] for m in capture["body"]["messages"] if m["role"] != "system" or
             any(b.get("text") for b in m["content"])]  # fmt: skip
    assert [m["role"] for m in sent if m is not sent[0] or m["role"] != "system"][-len(roles):] \
        == roles  # fmt: skip
    tools = {t["function"]["name"] for t in got.body.get("tools") or []}
    assert tools == {t["name"] for t in capture["body"].get("tools") or []}
    (rec,) = await gw.records(1)
    known = {"model", "messages", "system", "max_tokens", "stream", "tools", "metadata",
             "temperature", "top_p", "stop_sequences", "tool_choice", "thinking"}  # fmt: skip
    for key in capture["body"].keys() - known:
        assert key in rec["dropped"], (key, rec["dropped"])
