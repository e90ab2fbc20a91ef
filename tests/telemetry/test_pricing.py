"""Cost, reference cost and savings, checked against genai-prices' own numbers, offline."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest
from genai_prices import Usage as GenaiUsage
from genai_prices import calc_price

from orca_desktop.config import Config
from orca_desktop.routing import Catalog, Requirements
from orca_desktop.telemetry.pricing import (
    Usage,
    cost_usd,
    estimated_cost_usd,
    reference_cost_usd,
    reference_model,
    savings_usd,
)
from tests.routing.factories import model


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pricing tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.build(Config())


def entry(catalog: Catalog, provider: str, model_id: str) -> object:
    found = catalog.find(provider, model_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(prompt=1_000_000, completion=1_000_000), Decimal("12.50")),
        (Usage(prompt=100_000, completion=0), Decimal("0.25")),
        (Usage(prompt=100_000, completion=0, cached=100_000), Decimal("0.125")),
        # 234 x 2.5 + 1000 x 1.25 + 567 x 10 = 7505 micro-dollars
        (Usage(prompt=1234, completion=567, cached=1000), Decimal("0.007505")),
    ],
)
def test_gpt_4o_cost_matches_known_figures(
    catalog: Catalog, usage: Usage, expected: Decimal
) -> None:
    gpt_4o = catalog.find("openai", "gpt-4o")
    assert gpt_4o is not None
    assert cost_usd(gpt_4o, usage) == expected


@pytest.mark.parametrize(
    ("provider", "model_id", "genai_provider", "genai_ref"),
    [
        ("openai", "gpt-4.1-mini", "openai", "gpt-4.1-mini"),
        ("anthropic", "claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-sonnet-4-0", "anthropic", "claude-sonnet-4-20250514"),
        ("gemini", "gemini-2.5-pro", "google", "gemini-2.5-pro"),
        ("deepseek", "deepseek-chat", "deepseek", "deepseek-chat"),
        ("groq", "openai/gpt-oss-120b", "groq", "openai/gpt-oss-120b"),
        ("xai", "grok-4", "x-ai", "grok-4"),
    ],
)
@pytest.mark.parametrize(
    "usage",
    [
        Usage(prompt=1_000, completion=500),
        Usage(prompt=50_000, completion=2_000, cached=40_000),
        Usage(prompt=300_000, completion=1_000, cached=10_000),  # past long-context tiers
        Usage(prompt=20_000, completion=800, cached=12_000, cache_write=6_000),
        Usage(prompt=400_000, completion=800, cached=100_000, cache_write=250_000),
    ],
)
def test_known_models_cost_what_genai_prices_says(
    catalog: Catalog,
    provider: str,
    model_id: str,
    genai_provider: str,
    genai_ref: str,
    usage: Usage,
) -> None:
    info = catalog.find(provider, model_id)
    assert info is not None
    expected = calc_price(
        GenaiUsage(
            input_tokens=usage.prompt,
            output_tokens=usage.completion,
            cache_read_tokens=usage.cached or None,
            cache_write_tokens=usage.cache_write or None,
        ),
        genai_ref,
        provider_id=genai_provider,
    ).total_price
    assert cost_usd(info, usage) == expected


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        # 2000 x 3 + 5000 x 0.3 + 3000 x 3.75 + 400 x 15 = 24750 micro-dollars
        ("claude-sonnet-4-5", Decimal("0.02475")),
        # 2000 x 15 + 5000 x 1.5 + 3000 x 18.75 + 400 x 75 = 123750 micro-dollars
        ("claude-opus-4-1", Decimal("0.12375")),
    ],
)
def test_cache_reads_and_writes_cost_their_own_prices(
    catalog: Catalog, model_id: str, expected: Decimal
) -> None:
    info = catalog.find("anthropic", model_id)
    assert info is not None
    usage = Usage(prompt=10_000, completion=400, cached=5_000, cache_write=3_000)
    assert cost_usd(info, usage) == expected
    theirs = calc_price(
        GenaiUsage(
            input_tokens=10_000,
            output_tokens=400,
            cache_read_tokens=5_000,
            cache_write_tokens=3_000,
        ),
        model_id,
        provider_id="anthropic",
    ).total_price
    assert theirs == expected


def test_cache_writes_without_a_cache_write_price_cost_the_input_price(catalog: Catalog) -> None:
    gpt_4o = catalog.find("openai", "gpt-4o")
    assert gpt_4o is not None
    with_writes = Usage(prompt=1234, completion=567, cached=1000, cache_write=200)
    assert cost_usd(gpt_4o, with_writes) == Decimal("0.007505")
    fake = model("fake", "mock", inp="1", out="2", cached="0.1")  # the catalog has no write price
    usage = Usage(prompt=1_000, completion=0, cached=500, cache_write=300)
    assert cost_usd(fake, usage) == Decimal("0.00055")


def test_cache_counts_beyond_the_prompt_are_clamped_to_it(catalog: Catalog) -> None:
    sonnet = catalog.find("anthropic", "claude-sonnet-4-5")
    assert sonnet is not None
    # 600 reads, then only 400 of the 900 writes fit: 600 x 0.3 + 400 x 3.75 = 1680 micro-dollars
    usage = Usage(prompt=1_000, completion=0, cached=600, cache_write=900)
    assert cost_usd(sonnet, usage) == Decimal("0.00168")


def test_long_context_tier_applies_to_tiered_models(catalog: Catalog) -> None:
    sonnet = catalog.find("anthropic", "claude-sonnet-4-5")
    assert sonnet is not None
    below = cost_usd(sonnet, Usage(prompt=200_000, completion=0))
    above = cost_usd(sonnet, Usage(prompt=200_001, completion=0))
    assert below == Decimal("0.6")
    assert above is not None and above > Decimal("1.2")  # every token at the higher tier


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(prompt=1_000_000, completion=1_000_000), Decimal("0.75")),
        (Usage(prompt=2_000, completion=1_000), Decimal("0.0009")),
        (Usage(prompt=1_000_000, completion=0, cached=400_000), Decimal("0.096")),
    ],
)
def test_unknown_model_uses_catalog_prices(usage: Usage, expected: Decimal) -> None:
    fake = model("fake-small", "mock", inp="0.15", out="0.6", cached="0.015")
    assert cost_usd(fake, usage) == expected


def test_cached_tokens_cost_the_input_price_without_a_cached_price() -> None:
    fake = model("fake", "mock", inp="1", out="2")
    usage = Usage(prompt=1_000, completion=0, cached=600)
    assert cost_usd(fake, usage) == Decimal("0.001")


def test_configured_price_of_a_known_model_wins_over_genai_prices() -> None:
    config = Config.model_validate({"models": [{"id": "gpt-4o", "input_price": 1.0}]})
    gpt_4o = Catalog.build(config).find("openai", "gpt-4o")
    assert gpt_4o is not None
    assert cost_usd(gpt_4o, Usage(prompt=1_000_000, completion=1_000_000)) == Decimal("11")


def test_provider_prefix_of_the_serving_provider_is_stripped() -> None:
    prefixed = model("openai/gpt-4o", "openai", inp="2.5", out="10", cached="1.25")
    usage = Usage(prompt=10_000, completion=2_000, cached=4_000)
    expected = calc_price(
        GenaiUsage(input_tokens=10_000, output_tokens=2_000, cache_read_tokens=4_000),
        "gpt-4o",
        provider_id="openai",
    ).total_price
    assert cost_usd(prefixed, usage) == expected


def test_reference_cost_and_savings(catalog: Catalog) -> None:
    usage = Usage(prompt=1_000_000, completion=1_000_000)
    served = catalog.find("openai", "gpt-4o-mini")
    assert served is not None
    reference = reference_model(catalog, Config().routing.reference_model)
    assert reference is not None and (reference.provider, reference.id) == ("openai", "gpt-4o")
    cost = cost_usd(served, usage)
    ref_cost = reference_cost_usd(reference, usage)
    assert (cost, ref_cost) == (Decimal("0.75"), Decimal("12.50"))
    assert savings_usd(cost, ref_cost) == Decimal("11.75")
    opus = catalog.find("anthropic", "claude-opus-4-1")
    assert opus is not None
    assert savings_usd(cost_usd(opus, usage), ref_cost) == Decimal("-77.50")


def test_unknown_reference_or_cost_gives_no_savings(catalog: Catalog) -> None:
    assert reference_model(catalog, "no-such-model") is None
    assert reference_cost_usd(None, Usage(prompt=1, completion=1)) is None
    assert savings_usd(None, Decimal(1)) is None
    assert cost_usd(model("x"), Usage(prompt=-1, completion=0)) is None
    assert cost_usd(model("x"), Usage(prompt=1, completion=0, cache_write=-1)) is None


def test_estimated_cost_uses_prompt_estimate_and_expected_output() -> None:
    fake = model("fake", "mock", inp="1", out="4")
    req = Requirements(False, False, False, False, prompt_tokens=1_000, max_output_tokens=None)
    assert estimated_cost_usd(fake, req, 500) == Decimal("0.003")
    capped = Requirements(False, False, False, False, prompt_tokens=1_000, max_output_tokens=100)
    assert estimated_cost_usd(fake, capped, 500) == Decimal("0.0014")
