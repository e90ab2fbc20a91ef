"""Every request in tests/corpus/ replayed through the gateway, natively and translated.

The fixtures are real captures (tests/corpus/README.md says how each was taken).
A client that changes what it sends gets a new file in tests/corpus/; this test
picks it up, by the captured path:

- `/v1/messages` captures: native = an `anthropic` provider (the body must arrive
  unchanged except `model`, betas and version forwarded); translated = the
  OpenAI-compatible `mock` (every system text, the top-level one and each
  `role: "system"` turn, arrives as a system message, a mid-conversation one at its
  place among the user turns; every tool as a function; the record names what was
  dropped).
- `/v1/chat/completions` captures: native = the OpenAI-compatible `mock` (body
  unchanged except `model`); translated = the `anthropic` provider, called on its
  Messages API (`/v1/messages`, never `/v1/chat/completions`), system text and
  tools present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import TOKEN, Gateway, GatewayFactory
from tests.e2e.test_messages_anthropic_sdk import with_anthropic_provider
from tests.fake_provider import Received, Reply

pytestmark = pytest.mark.asyncio

CORPUS = sorted((Path(__file__).parent.parent / "corpus").glob("*.json"))
MESSAGES = [p for p in CORPUS if json.loads(p.read_text())["path"] == "/v1/messages"]
CHAT = [p for p in CORPUS if json.loads(p.read_text())["path"] == "/v1/chat/completions"]

ANTH_MODEL, ANTH_UPSTREAM = "claude-fake", "claude-fake-20250101"
CHAT_MODEL = "fake-small"
# Top-level Messages keys the chat translation has a counterpart for; any other key
# of a fixture must be named in the record's `dropped` list.
TRANSLATED_KEYS = {
    "model", "messages", "system", "max_tokens", "stream", "tools", "metadata",
    "temperature", "top_p", "stop_sequences", "tool_choice", "thinking",
}  # fmt: skip


def _load(path: Path) -> dict[str, Any]:
    capture: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return capture


async def _replay(gw: Gateway, capture: dict[str, Any], model: str) -> tuple[int, bytes]:
    body = dict(capture["body"], model=model)
    url = f"{gw.root}{capture['path']}"
    headers = dict(capture["headers"]) | {"Authorization": f"Bearer {TOKEN}"}
    headers.pop("content-type", None)  # aiohttp sets it for json=
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, params=capture.get("query") or None,
                             headers=headers) as resp:  # fmt: skip
            return resp.status, await resp.read()


def _posts(gw: Gateway) -> list[Received]:
    return [r for r in gw.fake.requests if r.method == "POST"]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


def _assert_messages_answer(status: int, answer: bytes, stream: bool) -> None:
    assert status == 200, answer[:2000]
    if stream:
        events = [json.loads(line[5:]) for line in answer.decode().splitlines()
                  if line.startswith("data:")]  # fmt: skip
        types = [e["type"] for e in events]
        assert types[0] == "message_start" and "message_stop" in types, types
        assert "content_block_stop" in types, types
    else:
        message = json.loads(answer)
        assert message["type"] == "message" and message["content"], message


def _assert_chat_answer(status: int, answer: bytes, stream: bool, usage: bool) -> None:
    assert status == 200, answer[:2000]
    if stream:
        lines = [line[5:].strip() for line in answer.decode().splitlines()
                 if line.startswith("data:")]  # fmt: skip
        assert lines[-1] == "[DONE]", lines[-3:]
        chunks = [json.loads(x) for x in lines[:-1]]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                       if c.get("choices")) == "hi"  # fmt: skip
        if usage:  # stream_options.include_usage: a final usage frame with choices []
            assert chunks[-1]["choices"] == [] and chunks[-1]["usage"], chunks[-1]
    else:
        answer_json = json.loads(answer)
        assert answer_json["choices"][0]["message"]["content"] == "hi"


# -- /v1/messages captures (Claude Code, the anthropic SDK) -------------------------------


@pytest.mark.parametrize("path", MESSAGES, ids=[p.stem for p in MESSAGES])
async def test_a_messages_capture_passes_through_to_anthropic_unchanged(
    path: Path,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
) -> None:
    capture = _load(path)
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script(ANTH_UPSTREAM, Reply(content="hi"))
    status, answer = await _replay(gw, capture, ANTH_MODEL)
    _assert_messages_answer(status, answer, capture["body"].get("stream") is True)
    (got,) = _posts(gw)
    assert got.path == "/v1/messages"
    # semantic equality of the whole body: unknown keys, system turns, cache_control kept
    assert got.body == dict(capture["body"], model=ANTH_UPSTREAM)
    for name in ("anthropic-beta", "anthropic-version"):
        if name in capture["headers"]:
            assert got.headers.get(name) == capture["headers"][name], name


@pytest.mark.parametrize("path", MESSAGES, ids=[p.stem for p in MESSAGES])
async def test_a_messages_capture_is_translated_for_an_openai_provider_losing_nothing_silently(
    path: Path, gateway_factory: GatewayFactory
) -> None:
    capture = _load(path)
    body = capture["body"]
    gw = await gateway_factory()
    gw.fake.script(CHAT_MODEL, Reply(content="hi"))
    status, answer = await _replay(gw, capture, CHAT_MODEL)
    _assert_messages_answer(status, answer, body.get("stream") is True)
    (got,) = _posts(gw)
    assert got.path == "/v1/chat/completions"
    sent = got.body["messages"]
    system_sent = [(i, _text(m["content"])) for i, m in enumerate(sent) if m["role"] == "system"]

    def turns_before(messages: list[dict[str, Any]], index: int) -> int:
        return sum(1 for m in messages[:index] if m["role"] in ("user", "assistant"))

    # the top-level system prompt: every block's text in some system message
    top = body.get("system") or []
    for text in [top] if isinstance(top, str) else [b["text"] for b in top if b.get("text")]:
        assert any(text in s for _, s in system_sent), text[:200]
    # each `role: "system"` turn: its text in a system message after as many user/assistant
    # turns as it followed in the capture (it stays in place, it is not hoisted or dropped)
    for index, message in enumerate(body["messages"]):
        if message["role"] != "system" or not _text(message["content"]):
            continue
        text = _text(message["content"])
        places = [turns_before(sent, i) for i, s in system_sent if text in s]
        assert places, f"system turn {index} missing: {text[:200]}"
        assert turns_before(body["messages"], index) in places, (index, places)
    tools = {t["function"]["name"] for t in got.body.get("tools") or []}
    assert tools == {t["name"] for t in body.get("tools") or []}
    (rec,) = await gw.records(1)
    # `dropped` is being added to the record by another change: checked once the key
    # exists, and then it must name every top-level key the translation has no
    # counterpart for (e.g. "context_management", "output_config").
    if "dropped" in rec:
        for key in body.keys() - TRANSLATED_KEYS:
            assert key in (rec.get("dropped") or []), (key, rec.get("dropped"))


# -- /v1/chat/completions captures (opencode, Continue, the openai SDK) ---------------------


@pytest.mark.parametrize("path", CHAT, ids=[p.stem for p in CHAT])
async def test_a_chat_capture_passes_through_to_an_openai_provider_unchanged(
    path: Path, gateway_factory: GatewayFactory
) -> None:
    capture = _load(path)
    body = capture["body"]
    gw = await gateway_factory()
    gw.fake.script(CHAT_MODEL, Reply(content="hi"))
    status, answer = await _replay(gw, capture, CHAT_MODEL)
    usage = bool((body.get("stream_options") or {}).get("include_usage"))
    _assert_chat_answer(status, answer, body.get("stream") is True, usage)
    (got,) = _posts(gw)
    assert got.path == "/v1/chat/completions"
    assert got.body == dict(body, model=CHAT_MODEL)


@pytest.mark.parametrize("path", CHAT, ids=[p.stem for p in CHAT])
async def test_a_chat_capture_reaches_an_anthropic_provider_on_its_messages_api(
    path: Path,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
) -> None:
    capture = _load(path)
    body = capture["body"]
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script(ANTH_UPSTREAM, Reply(content="hi"))
    status, answer = await _replay(gw, capture, ANTH_MODEL)
    usage = bool((body.get("stream_options") or {}).get("include_usage"))
    _assert_chat_answer(status, answer, body.get("stream") is True, usage)
    (got,) = _posts(gw)
    assert got.path == "/v1/messages", got.path  # natively, never /v1/chat/completions
    assert got.body["model"] == ANTH_UPSTREAM
    system = got.body.get("system") or []
    system_text = system if isinstance(system, str) else _text(system)
    # a system message later in the conversation may stay in place (models that take it)
    system_text += "".join(_text(m["content"]) for m in got.body["messages"]
                           if m["role"] == "system")  # fmt: skip
    for message in body["messages"]:
        if message["role"] in ("system", "developer") and _text(message["content"]):
            assert _text(message["content"]) in system_text, _text(message["content"])[:200]
    assert {t["name"] for t in got.body.get("tools") or []} == {
        t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"
    }
