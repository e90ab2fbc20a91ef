"""What a request cost and what the record says, as /orca/v1 and RequestFinished report it.

Prices are the test catalog's (tests/e2e/conftest.py MODELS, USD per million
tokens): fake-small 0.15/0.60, fake-mid 0.50/2.00, fake-large 2.50/10.00 with
cached input at 1.25; fake-large is the reference model. Every expected amount
below is worked out by hand and compared exactly, as Decimal.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openai.types.chat import ChatCompletionMessageParam

from orca_desktop.events import RequestFinished
from orca_desktop.telemetry.record import RequestRecord
from orca_desktop.telemetry.store import SqliteStore
from tests.e2e.conftest import Gateway, GatewayFactory, openai_client
from tests.fake_provider import Fail, Reply

pytestmark = pytest.mark.asyncio

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
MONEY = ("cost_usd", "reference_cost_usd", "savings_usd")


def usd(value: float | None) -> Decimal | None:
    """A JSON money number as the Decimal it was written from."""
    return None if value is None else Decimal(str(value))


def usd_of(value: float) -> Decimal:
    return Decimal(str(value))


def finished(gw: Gateway) -> list[RequestRecord]:
    records: list[RequestRecord] = []
    gw.core.hub.subscribe(
        lambda e: records.append(e.record) if isinstance(e, RequestFinished) else None
    )
    return records


async def post(gw: Gateway, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession(headers=gw.auth) as http:
        async with http.post(f"{gw.base_url}/chat/completions", json=body) as resp:
            await resp.read()
            return resp.status, dict(resp.headers)


async def complete(gw: Gateway, model: str, *, stream: bool, **extra: Any) -> str:
    """One request through the openai SDK, read to the end; returns X-Orca-Request-Id."""
    async with openai_client(gw) as oa:
        create = oa.chat.completions.with_raw_response.create
        if stream:
            raw_stream = await create(model=model, messages=MESSAGES, stream=True, **extra)
            async for _ in raw_stream.parse():
                pass
            return str(raw_stream.headers["x-orca-request-id"])
        raw = await create(model=model, messages=MESSAGES, **extra)
        raw.parse()
        return str(raw.headers["x-orca-request-id"])


# -- cost, reference cost, savings -----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "reply", "cost", "reference", "savings"),
    [
        # 1000 × 0.15 + 500 × 0.60 = 450 µ$; reference 1000 × 2.50 + 500 × 10.00 = 7500 µ$
        (
            "fake-small",
            Reply(prompt_tokens=1000, completion_tokens=500),
            "0.00045",
            "0.0075",
            "0.00705",
        ),
        # fake-small has no cached price: cached tokens cost the input price
        (
            "fake-small",
            Reply(prompt_tokens=1000, completion_tokens=500, cached_tokens=400),
            "0.00045",
            "0.007",
            "0.00655",
        ),
        # 600 × 2.50 + 400 × 1.25 + 100 × 10.00 = 3000 µ$; the reference is the same model
        (
            "fake-large",
            Reply(prompt_tokens=1000, completion_tokens=100, cached_tokens=400),
            "0.003",
            "0.003",
            "0",
        ),
        # 2000 × 0.50 + 1000 × 2.00 = 3000 µ$; reference 2000 × 2.50 + 1000 × 10 = 15000 µ$
        (
            "fake-mid",
            Reply(prompt_tokens=2000, completion_tokens=1000, reasoning_tokens=300),
            "0.003",
            "0.015",
            "0.012",
        ),
    ],
    ids=["small", "small-cached", "large-cached", "mid"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_cost_and_savings_are_exact(
    gateway: Gateway,
    model: str,
    reply: Reply,
    cost: str,
    reference: str,
    savings: str,
    stream: bool,
) -> None:
    gateway.fake.script(model, reply)
    events = finished(gateway)

    request_id = await complete(gateway, model, stream=stream)

    expected = {
        "cost_usd": Decimal(cost),
        "reference_cost_usd": Decimal(reference),
        "savings_usd": Decimal(savings),
    }
    [record] = await gateway.records(1)
    assert record["id"] == request_id
    assert {k: usd(record[k]) for k in MONEY} == expected
    assert record["reference_model"] == "fake-large"
    assert (record["prompt_tokens"], record["completion_tokens"]) == (
        reply.prompt_tokens,
        reply.completion_tokens,
    )
    assert record["cached_tokens"] == (reply.cached_tokens or 0)
    assert record["reasoning_tokens"] == (reply.reasoning_tokens or 0)
    [event] = [r for r in events if r.id == request_id]
    assert {k: getattr(event, k) for k in MONEY} == expected


async def test_fallback_is_charged_for_the_model_that_answered(gateway: Gateway) -> None:
    gateway.fake.script("fake-small", Fail(500))
    gateway.fake.script("fake-mid", Reply(prompt_tokens=1000, completion_tokens=500))

    await complete(gateway, "fake-small", stream=True, extra_body={"models": ["fake-mid"]})

    [record] = await gateway.records(1)
    assert record["model"] == "fake-mid"
    assert usd(record["cost_usd"]) == Decimal("0.0015")  # 500 + 1000 µ$ at fake-mid's prices
    assert usd(record["savings_usd"]) == Decimal("0.006")


# -- totals and persistence -------------------------------------------------------------


async def test_stats_are_the_sum_of_the_records_and_survive_a_restart(gateway: Gateway) -> None:
    fake = gateway.fake
    fake.script("fake-small", [Reply(prompt_tokens=1000, completion_tokens=500), Fail(500)])
    fake.script("fake-mid", [Reply(prompt_tokens=2000, completion_tokens=1000), Fail(503)])
    fake.script("fake-large", Reply(prompt_tokens=1000, completion_tokens=100, cached_tokens=400))
    await complete(gateway, "fake-small", stream=False)  # 0.00045, saves 0.00705
    await complete(gateway, "fake-mid", stream=True)  # 0.003, saves 0.012
    await complete(gateway, "fake-large", stream=False)  # 0.003, saves 0
    assert (await post(gateway, {"model": "fake-small", "messages": MESSAGES, "temperature": 9}))[
        0
    ] == 400
    assert (await post(gateway, {"model": "no-such-model", "messages": MESSAGES}))[0] == 404
    status, _ = await post(
        gateway, {"model": "fake-small", "messages": MESSAGES, "models": ["fake-mid"]}
    )
    assert status == 502  # both fail now

    records = await gateway.records(6)
    assert [r["status"] for r in records] == [502, 404, 400, 200, 200, 200]
    cost = sum((usd(r["cost_usd"]) or Decimal(0) for r in records), Decimal(0))
    savings = sum((usd(r["savings_usd"]) or Decimal(0) for r in records), Decimal(0))
    assert cost == Decimal("0.00645") and savings == Decimal("0.01905")
    stats = await gateway.stats()
    for period in ("today", "all_time"):
        totals = stats[period]
        assert (totals["requests"], totals["errors"]) == (6, 3), period
        assert (usd(totals["cost_usd"]), usd(totals["savings_usd"])) == (cost, savings), period

    await gateway.restart()

    assert await gateway.records(6) == records
    again = await gateway.stats()
    for period in ("today", "all_time"):
        assert again[period] == stats[period], period


# -- the record's fields ----------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_record_fields_for_an_auto_request(gateway: Gateway, stream: bool) -> None:
    gateway.fake.script(
        "fake-small",
        Reply(
            content="one two three",
            prompt_tokens=30,
            completion_tokens=3,
            served_model="fake-small-0125",
        ),
    )
    before = datetime.now(UTC)

    request_id = await complete(gateway, "auto", stream=stream, max_tokens=100)

    [r] = await gateway.records(1)
    assert r["id"] == request_id
    assert r["started_at"].endswith("Z")
    started = datetime.fromisoformat(r["started_at"])
    assert started.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= started <= datetime.now(UTC)
    assert (r["endpoint"], r["client"]) == ("/v1/chat/completions", "openai-python")
    assert (r["requested_model"], r["router"], r["strategy"]) == ("auto", "auto", "cheapest")
    assert "fake-small" in r["reason"]
    assert (r["provider"], r["model"], r["byok"]) == ("mock", "fake-small-0125", True)
    assert (r["status"], r["error"], r["stream"]) == (200, None, stream)
    # the chain, cheapest first, then cheaper catalog models it could not use, and why
    chain = [c for c in r["candidates"] if c["excluded"] is None]
    assert [(c["model"], c["provider"]) for c in chain] == [
        ("fake-small", "mock"),
        ("fake-mid", "mock"),
        ("fake-large", "mock"),
    ]
    assert all(c["excluded"].startswith("no key for ") for c in r["candidates"][3:])
    estimates = [usd_of(c["estimated_cost_usd"]) for c in chain]
    assert all(e > 0 for e in estimates) and estimates == sorted(estimates)
    [attempt] = r["attempts"]
    assert (attempt["model"], attempt["provider"], attempt["status"], attempt["error"]) == (
        "fake-small",
        "mock",
        200,
        None,
    )
    assert (r["prompt_tokens"], r["completion_tokens"]) == (30, 3)
    assert (r["cached_tokens"], r["reasoning_tokens"]) == (0, 0)
    timings = {k: r[k] for k in ("overhead_ms", "upstream_ms", "ttft_ms", "duration_ms")}
    assert all(v is not None and v >= 0 for v in timings.values()), timings
    assert r["ttft_ms"] <= r["duration_ms"], timings
    assert r["upstream_ms"] <= r["duration_ms"] and r["overhead_ms"] <= r["duration_ms"], timings
    assert 0 <= attempt["duration_ms"] <= r["duration_ms"]


async def test_record_says_why_cheaper_models_were_excluded(gateway: Gateway) -> None:
    gateway.fake.script("fake-large", Reply(content="thought about it"))

    await complete(gateway, "auto", stream=False, reasoning_effort="high")

    [r] = await gateway.records(1)
    assert r["model"] == "fake-large"
    chosen = [c for c in r["candidates"] if c["excluded"] is None]
    assert [(c["model"], c["provider"]) for c in chosen] == [("fake-large", "mock")]
    cheaper = [c for c in r["candidates"] if c["excluded"] is not None]
    limit = usd_of(chosen[0]["estimated_cost_usd"])
    assert cheaper and all(usd_of(c["estimated_cost_usd"]) < limit for c in cheaper)
    assert "not a reasoning model" in [c["excluded"] for c in cheaper]


async def test_client_disconnect_mid_stream_is_recorded_as_499(gateway: Gateway) -> None:
    gateway.fake.script(
        "fake-small", Reply(content=" ".join(["w"] * 200), chunks=200, chunk_interval=0.02)
    )
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{gateway.base_url}/chat/completions",
            headers=gateway.auth,
            json={"model": "fake-small", "messages": MESSAGES, "stream": True},
        )
        request_id = resp.headers["X-Orca-Request-Id"]
        assert (await resp.content.readline()).startswith(b"data: ")
        resp.close()  # the client goes away mid-stream
    await gateway.fake.wait_for_disconnects(1)

    [r] = await gateway.records(1)
    assert r["id"] == request_id
    assert (r["status"], r["error"], r["stream"]) == (499, "client disconnected", True)
    assert (r["provider"], r["model"]) == ("mock", "fake-small")
    assert [(a["model"], a["status"]) for a in r["attempts"]] == [("fake-small", 200)]


async def test_retention_days_from_the_config_prunes_into_all_time_totals(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    """`[telemetry] retention_days` reaches the store: an old record leaves the request
    list at start-up, and all-time totals still count it."""
    old_day = (datetime.now(UTC) - timedelta(days=40)).date().isoformat()
    old = RequestRecord(
        id="req-old",
        started_at=f"{old_day}T10:00:00.000Z",
        endpoint="/v1/chat/completions",
        status=200,
        cost_usd=Decimal("0.25"),
        savings_usd=Decimal("0.5"),
        overhead_ms=1.0,
    )
    with SqliteStore(tmp_path / "data" / "telemetry.sqlite3") as store:
        store.add(old)

    gateway = await gateway_factory(extra="[telemetry]\nretention_days = 7\n")
    gateway.fake.script("fake-small", Reply(prompt_tokens=1000, completion_tokens=500))
    await complete(gateway, "fake-small", stream=False)

    deadline = time.monotonic() + 10
    while True:
        ids = [r["id"] for r in await gateway.records(1)]
        if "req-old" not in ids or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert "req-old" not in ids and len(ids) == 1
    all_time = (await gateway.stats())["all_time"]
    assert all_time["requests"] == 2
    assert usd(all_time["cost_usd"]) == Decimal("0.25") + Decimal("0.00045")
