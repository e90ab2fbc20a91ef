"""Records of requests the gateway rejected before any provider was asked.

A routing rejection (424: no key; 400: nothing capable behind a router) keeps what the router
worked out, so the window can show why nothing could serve the request: the
route asked for, the reason, and the candidates with why each was excluded.
A request that failed validation still says which model it asked for.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import Gateway, GatewayFactory
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio

MESSAGES = [{"role": "user", "content": "hi"}]
ROUTERS = """
[routers.small]
strategy = "cheapest"
models = ["fake-small"]
"""


async def rejected(gw: Gateway, **body: Any) -> dict[str, Any]:
    """The record of one chat request that the gateway answers with a 4xx."""
    async with aiohttp.ClientSession(headers=gw.auth) as http:
        async with http.post(
            f"{gw.base_url}/chat/completions", json={"messages": MESSAGES, **body}
        ) as resp:
            assert 400 <= resp.status < 500, await resp.text()
            request_id = resp.headers["X-Orca-Request-Id"]
    [record] = await gw.records(1)
    assert record["id"] == request_id
    assert record["attempts"] == [] and record["provider"] is None
    return record


def excluded(record: dict[str, Any]) -> dict[str, str]:
    return {c["model"]: c["excluded"] for c in record["candidates"]}


async def test_a_424_keeps_the_route_and_the_candidates_without_a_key(gateway: Gateway) -> None:
    record = await rejected(gateway, model="gpt-4o")

    assert record["status"] == 424
    assert (record["requested_model"], record["router"], record["strategy"]) == (
        "gpt-4o",
        "pinned",
        "direct",
    )
    assert record["reason"] and "keys set openai" in record["reason"]
    assert record["candidates"], record
    assert all(c["excluded"].startswith("no key for ") for c in record["candidates"])
    assert all(c["estimated_cost_usd"] is not None for c in record["candidates"])


async def test_a_pinned_model_the_catalog_thinks_incapable_is_sent_and_the_reason_says_so(
    gateway: Gateway,
) -> None:
    # not a rejection any more: the user named the model, its provider decides
    gateway.fake.script("fake-small", Reply(content="thought about it"))
    async with aiohttp.ClientSession(headers=gateway.auth) as http:
        async with http.post(
            f"{gateway.base_url}/chat/completions",
            json={"model": "fake-small", "messages": MESSAGES, "reasoning_effort": "high"},
        ) as resp:
            assert resp.status == 200, await resp.text()
    assert gateway.fake.received_for("fake-small")[0].body["reasoning_effort"] == "high"
    [record] = await gateway.records(1)
    assert (record["router"], record["strategy"], record["status"]) == ("pinned", "direct", 200)
    assert "the catalog says: not a reasoning model; sent anyway" in record["reason"]


async def test_a_named_router_rejection_names_the_router(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory(extra=ROUTERS)

    record = await rejected(gw, model="orcarouter/small", reasoning_effort="high")

    assert record["status"] == 400
    assert (record["router"], record["strategy"]) == ("small", "cheapest")
    assert excluded(record) == {"fake-small": "not a reasoning model"}


async def test_a_fallback_list_rejection_is_a_request_fallback(gateway: Gateway) -> None:
    record = await rejected(gateway, model="gpt-4o", models=["claude-sonnet-4-5"])

    assert record["status"] == 424
    assert (record["router"], record["strategy"]) == ("request", "fallback")
    assert {"gpt-4o", "claude-sonnet-4-5"} <= set(excluded(record))


async def test_an_auto_rejection_is_auto_cheapest(gateway: Gateway) -> None:
    record = await rejected(gateway, model="auto", max_tokens=10_000_000)

    assert record["status"] == 400
    assert (record["router"], record["strategy"]) == ("auto", "cheapest")
    assert "context" in record["reason"]
    assert record["candidates"] and all(c["excluded"] for c in record["candidates"])


@pytest.mark.parametrize(
    ("body", "model"),
    [
        ({"model": "fake-small", "temperature": 9}, "fake-small"),
        ({"model": "fake-small", "messages": "hi"}, "fake-small"),
        ({"model": "", "temperature": 1}, None),
        ({"model": 5}, None),
    ],
    ids=["bad-field", "bad-messages", "empty-model", "model-not-a-string"],
)
async def test_a_validation_rejection_keeps_the_requested_model(
    gateway: Gateway, body: dict[str, Any], model: str | None
) -> None:
    record = await rejected(gateway, **body)

    assert record["status"] == 400
    assert record["requested_model"] == model
