"""A provider's refusal (a 4xx other than 401/408/429) through the real gateway.

The refusal ends the request: the client gets the provider's error in the
endpoint's shape (OpenAI's `{"error": {"message", "type", "param", "code"}}`,
Anthropic's `{"type": "error", "error": {"type", "message"}}`), and the
record names the provider that refused, with the attempt it made.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from tests.e2e.conftest import TOKEN, Gateway, GatewayFactory, openai_client
from tests.e2e.test_messages_anthropic_sdk import HI, with_anthropic_provider
from tests.fake_provider import Fail, Reply

pytestmark = pytest.mark.asyncio

MESSAGES = [{"role": "user", "content": "hi"}]


async def post(gw: Gateway, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with aiohttp.ClientSession(headers={"x-api-key": TOKEN}) as http:
        async with http.post(f"{gw.root}{path}", json=body) as resp:
            return resp.status, await resp.read()


async def chat(gw: Gateway, **body: Any) -> tuple[int, bytes]:
    return await post(gw, "/v1/chat/completions", {"messages": MESSAGES, **body})


# -- the record names who refused ---------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
async def test_a_refusal_is_recorded_with_its_attempt_and_provider(
    gateway: Gateway, path: str, stream: bool
) -> None:
    gateway.fake.script("fake-small", Fail(400, message="bad thing"))
    body = {"model": "fake-small", "max_tokens": 8, "messages": HI, "stream": stream}

    status, _ = await post(gateway, path, body)

    assert status == 400
    [record] = await gateway.records(1)
    assert (record["status"], record["provider"], record["model"]) == (400, "mock", "fake-small")
    assert record["error"] == "mock answered HTTP 400: bad thing"
    [attempt] = record["attempts"]
    assert (attempt["model"], attempt["provider"], attempt["status"]) == ("fake-small", "mock", 400)
    assert attempt["error"] == record["error"] and attempt["duration_ms"] >= 0


async def test_a_refusal_after_a_failure_keeps_both_attempts(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Fail(500, message="down"))
    gateway.fake.script("fake-mid", Fail(422, message="unprocessable"))

    status, _ = await chat(gateway, model="fake-small", models=["fake-mid", "fake-large"])

    assert status == 422
    [record] = await gateway.records(1)
    assert [(a["model"], a["status"]) for a in record["attempts"]] == [
        ("fake-small", 500),
        ("fake-mid", 422),
    ]
    assert (record["provider"], record["model"]) == ("mock", "fake-mid")
    assert gateway.fake.received_for("fake-large") == []  # a refusal ends the chain


async def test_a_403_tells_the_user_to_test_the_key_of_the_real_provider(
    gateway: Gateway,
) -> None:
    gateway.fake.script("fake-small", Fail(403, message="key lacks access"))

    status, raw = await chat(gateway, model="fake-small")

    assert status == 403
    [record] = await gateway.records(1)
    assert "orca-desktop keys test mock" in record["error"]
    assert "keys test provider" not in record["error"]
    assert json.loads(raw)["error"]["message"] == "key lacks access"


# -- the body in OpenAI's shape on the chat endpoint -----------------------------------------


async def test_a_refusal_without_param_and_code_gets_them(gateway: Gateway) -> None:
    blocked = {"error": {"message": "region blocked", "type": "permission_error"}}
    gateway.fake.script("fake-small", Fail(403, body=blocked))

    status, raw = await chat(gateway, model="fake-small")

    assert status == 403
    assert json.loads(raw) == {
        "error": {
            "message": "region blocked",
            "type": "permission_error",
            "param": None,
            "code": None,
        }
    }
    async with openai_client(gateway) as oa:
        with pytest.raises(openai.PermissionDeniedError, match="region blocked") as caught:
            await oa.chat.completions.create(model="fake-small", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.code is None and caught.value.param is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"message": "too long", "code": "context_length_exceeded", "extra": 1}},
            {
                "message": "too long",
                "type": "invalid_request_error",
                "param": None,
                "code": "context_length_exceeded",
                "extra": 1,
            },
        ),
        (  # an Anthropic-shaped error behind the OpenAI endpoint
            {"type": "error", "error": {"type": "invalid_request_error", "message": "bad anth"}},
            {
                "message": "bad anth",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
        ),
        (  # no message: the gateway's own, naming the provider
            {"error": {"code": 400}},
            {
                "message": "mock answered HTTP 400",
                "type": "invalid_request_error",
                "param": None,
                "code": 400,
            },
        ),
    ],
    ids=["missing-type-and-param", "anthropic-shape", "no-message"],
)
async def test_a_refusal_body_is_put_into_openai_shape(
    gateway: Gateway, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    gateway.fake.script("fake-small", Fail(400, body=body))

    status, raw = await chat(gateway, model="fake-small")

    assert status == 400
    assert json.loads(raw) == {"error": expected}


async def test_a_refusal_already_in_shape_passes_byte_for_byte(gateway: Gateway) -> None:
    body = (
        b'{"error": {"message": "bad thing", "type": "invalid_request_error", '
        b'"param": "x", "code": null}}'
    )
    gateway.fake.script("fake-small", Fail(400, body=body))

    status, raw = await chat(gateway, model="fake-small")

    assert (status, raw) == (400, body)


# -- /v1/messages keeps Anthropic's shape ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"type": "error", "error": {"type": "invalid_request_error", "message": "bad anth"}},
            "bad anth",
        ),
        ({"type": "error", "error": {"type": "invalid_request_error"}}, "anth answered HTTP 400"),
        ({"error": {"message": "openai-shaped"}}, "openai-shaped"),
    ],
    ids=["in-shape", "no-message", "openai-shape"],
)
async def test_a_native_refusal_on_messages_keeps_anthropics_shape(
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
    body: dict[str, Any],
    message: str,
) -> None:
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script("claude-fake-20250101", Fail(400, body=body))

    status, raw = await post(
        gw, "/v1/messages", {"model": "claude-fake", "max_tokens": 8, "messages": HI}
    )

    assert status == 400
    error = json.loads(raw)
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]
    [record] = await gw.records(1)
    assert (record["provider"], [a["status"] for a in record["attempts"]]) == ("anth", [400])
    async with anthropic.AsyncAnthropic(base_url=gw.root, api_key=TOKEN, max_retries=0) as an:
        with pytest.raises(anthropic.BadRequestError):
            await an.messages.create(model="claude-fake", max_tokens=8, messages=HI)  # type: ignore[arg-type]


async def test_an_answer_after_a_refusal_is_recorded_as_usual(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", [Fail(400, message="bad"), Reply(content="fine")])
    await chat(gateway, model="fake-small")
    status, raw = await chat(gateway, model="fake-small")
    assert status == 200 and json.loads(raw)["choices"][0]["message"]["content"] == "fine"
    record = (await gateway.records(2))[0]
    assert (record["status"], record["error"], record["provider"]) == (200, None, "mock")
