"""A model the user named goes to its provider whatever the catalog says it can do.

The capability table and context windows are Orca's and can be wrong; a pinned
model (or one in a request's fallback list) is sent and its provider decides,
with the reason saying what the catalog expected. Routers still filter, and
auto's record names the cheaper models it passed over and why.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.e2e.conftest import MODELS, Gateway, GatewayFactory
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio

# fake-small: the cheapest, and (says the catalog) without tools and with a tiny window
PLAIN_SMALL = MODELS.replace(
    'context_window = 128000\nmax_output_tokens = 16000\ncapabilities = ["tools", "json_schema"]',
    "context_window = 2000\nmax_output_tokens = 1000\ncapabilities = []",
    1,
)
ROUTERS = """
[routers.small]
strategy = "cheapest"
models = ["fake-small"]
"""
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
MESSAGES = [{"role": "user", "content": "hi"}]
LONG = [{"role": "user", "content": "many words here " * 2000}]


@pytest_asyncio.fixture
async def gw(gateway_factory: GatewayFactory) -> Gateway:
    assert PLAIN_SMALL != MODELS
    return await gateway_factory(models=PLAIN_SMALL, extra=ROUTERS)


async def post(gw: Gateway, **body: Any) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession(headers=gw.auth) as http:
        async with http.post(f"{gw.base_url}/chat/completions", json=body) as resp:
            return resp.status, dict(resp.headers), await resp.json()


async def test_tools_with_tool_choice_none_go_to_a_pinned_model_the_catalog_says_lacks_tools(
    gw: Gateway,
) -> None:
    gw.fake.script("fake-small", Reply(content="no tools needed"))
    status, headers, answer = await post(
        gw, model="fake-small", messages=MESSAGES, tools=TOOLS, tool_choice="none"
    )
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"] == "no tools needed"
    [sent] = gw.fake.received_for("fake-small")
    assert sent.body["tools"] == TOOLS and sent.body["tool_choice"] == "none"
    assert headers["X-Orca-Route"] == "pinned/direct"
    assert "lacks tools; sent anyway" in headers["X-Orca-Route-Reason"]
    [record] = await gw.records(1)
    assert record["status"] == 200 and record["model"] == "fake-small"
    assert "the catalog says: lacks tools; sent anyway" in record["reason"]


async def test_a_pinned_model_is_not_refused_for_a_prompt_longer_than_the_catalogs_window(
    gw: Gateway,
) -> None:
    gw.fake.script("fake-small", Reply(content="fine"))
    status, _, answer = await post(gw, model="mock/fake-small", messages=LONG)
    assert status == 200, answer
    assert len(gw.fake.received_for("fake-small")) == 1
    [record] = await gw.records(1)
    assert "the catalog says: context too small (needs " in record["reason"]


async def test_a_fallback_list_sends_its_models_in_order_without_filtering(gw: Gateway) -> None:
    gw.fake.script("fake-small", Reply(content="first in the list"))
    status, _, answer = await post(
        gw, model="fake-small", models=["fake-mid"], messages=MESSAGES, tools=TOOLS
    )
    assert status == 200, answer
    assert [r.model for r in gw.fake.requests] == ["fake-small"]
    [record] = await gw.records(1)
    assert "of fake-small: lacks tools; sent anyway" in record["reason"]


async def test_auto_with_tools_names_the_cheaper_model_it_passed_over_and_why(
    gw: Gateway,
) -> None:
    gw.fake.script("fake-mid", Reply(content="routed"))
    status, _, answer = await post(gw, model="auto", messages=MESSAGES, tools=TOOLS)
    assert status == 200, answer
    [record] = await gw.records(1)
    assert record["model"] == "fake-mid"
    excluded = {c["model"]: c["excluded"] for c in record["candidates"]}
    assert excluded["fake-small"] == "lacks tools"
    assert excluded["fake-mid"] is None


async def test_auto_names_the_cheaper_model_whose_window_is_too_small(gw: Gateway) -> None:
    gw.fake.script("fake-mid", Reply(content="routed"))
    status, _, answer = await post(gw, model="auto", messages=LONG)
    assert status == 200, answer
    [record] = await gw.records(1)
    assert record["model"] == "fake-mid"
    excluded = {c["model"]: c["excluded"] for c in record["candidates"]}
    assert excluded["fake-small"].startswith("context too small (needs ")
    assert excluded["fake-small"].endswith(", has 2000)")


async def test_a_named_router_still_filters_by_the_catalogs_capabilities(gw: Gateway) -> None:
    status, _, answer = await post(gw, model="orcarouter/small", messages=MESSAGES, tools=TOOLS)
    assert status == 400, answer
    assert answer["error"]["code"] == "no_capable_model"
    assert "lacks tools" in answer["error"]["message"]
    assert gw.fake.requests == []
