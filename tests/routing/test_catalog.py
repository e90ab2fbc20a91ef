"""Catalog building: bundled data, genai-prices prices, config overrides and additions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from orca_desktop.config import Config, ConfigError
from orca_desktop.routing import CAPABILITIES, Catalog
from tests.routing.factories import model

WELL_KNOWN = [
    ("gpt-4o", "openai"),
    ("gpt-4o-mini", "openai"),
    ("gpt-4.1", "openai"),
    ("gpt-4.1-nano", "openai"),
    ("o3", "openai"),
    ("o4-mini", "openai"),
    ("gpt-5", "openai"),
    ("claude-sonnet-4-5", "anthropic"),
    ("claude-haiku-4-5", "anthropic"),
    ("claude-opus-4-1", "anthropic"),
    ("gemini-2.5-pro", "gemini"),
    ("gemini-2.5-flash", "gemini"),
    ("gemini-2.5-flash-lite", "gemini"),
    ("deepseek-chat", "deepseek"),
    ("deepseek-reasoner", "deepseek"),
    ("llama-3.3-70b-versatile", "groq"),
    ("mistral-large-latest", "mistral"),
    ("mistral-small-latest", "mistral"),
    ("codestral-latest", "mistral"),
    ("grok-4", "xai"),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "together"),
]


@pytest.fixture(scope="module")
def bundled() -> Catalog:
    return Catalog.build(Config())


@pytest.mark.parametrize(("model_id", "provider"), WELL_KNOWN)
def test_bundled_catalog_has_the_well_known_models(
    bundled: Catalog, model_id: str, provider: str
) -> None:
    info = bundled.find(provider, model_id)
    assert info is not None
    assert info.context_window > 0
    assert info.capabilities <= CAPABILITIES
    assert info.input_price > 0 and info.output_price > 0


@pytest.mark.parametrize(
    ("model_id", "provider", "genai_provider"),
    [
        ("gpt-4o", "openai", "openai"),
        ("claude-sonnet-4-5", "anthropic", "anthropic"),
        ("gemini-2.5-pro", "gemini", "google"),
        ("grok-4", "xai", "x-ai"),
        ("mistral-large-latest", "mistral", "mistral"),
    ],
)
def test_bundled_prices_come_from_genai_prices(
    bundled: Catalog, model_id: str, provider: str, genai_provider: str
) -> None:
    info = bundled.find(provider, model_id)
    assert info is not None
    # 1,000 tokens stay below every long-context tier: the base price per million
    calc = calc_price(
        Usage(input_tokens=1000, output_tokens=1000), model_id, provider_id=genai_provider
    )
    assert info.input_price * 1000 / 10**6 == calc.input_price
    assert info.output_price * 1000 / 10**6 == calc.output_price


def test_gpt_4o_prices_and_capabilities(bundled: Catalog) -> None:
    (info,) = bundled.get("gpt-4o")
    assert (info.input_price, info.output_price, info.cached_input_price) == (
        Decimal("2.5"),
        Decimal("10"),
        Decimal("1.25"),
    )
    assert info.capabilities == {"tools", "vision", "json_schema"}
    assert bundled.get("o3")[0].capabilities == CAPABILITIES


def test_lookup_is_by_id_and_case_insensitive() -> None:
    catalog = Catalog.build(Config(), entries=[model("Foo-Bar", "a"), model("Foo-Bar", "b")])
    assert [m.provider for m in catalog.get("Foo-Bar")] == ["a", "b"]
    assert [m.provider for m in catalog.get("foo-bar")] == ["a", "b"]
    assert catalog.get("nope") == []
    assert catalog.find("b", "Foo-Bar") is not None and catalog.find("c", "Foo-Bar") is None


def config_with(**data: Any) -> Config:
    return Config.model_validate(data)


def test_partial_override_changes_only_the_given_fields() -> None:
    base = model("m", "openai", inp="1", out="2", ctx=1000, caps=("tools",))
    catalog = Catalog.build(config_with(models=[{"id": "m", "input_price": 0.5}]), entries=[base])
    (info,) = catalog.get("m")
    assert info.input_price == Decimal("0.5")
    assert (info.output_price, info.context_window, info.capabilities) == (
        Decimal("2"),
        1000,
        frozenset({"tools"}),
    )


def test_override_for_another_provider_adds_an_entry_copied_from_the_known_model() -> None:
    base = model("m", "openai", inp="1", out="2", ctx=1000)
    config = config_with(models=[{"id": "m", "provider": "azure", "output_price": 3}])
    catalog = Catalog.build(config, entries=[base])
    azure = catalog.find("azure", "m")
    assert azure is not None
    assert (azure.input_price, azure.output_price) == (Decimal(1), Decimal(3))
    assert catalog.find("openai", "m") == base


def test_new_model_needs_provider_prices_and_context_window() -> None:
    config = config_with(models=[{"id": "fresh", "provider": "mock", "input_price": 1}])
    with pytest.raises(ConfigError) as info:
        Catalog.build(config, entries=[])
    assert "'fresh'" in str(info.value)
    assert "missing: output_price, context_window" in str(info.value)


def test_new_model_with_everything_is_added() -> None:
    config = config_with(
        models=[
            {
                "id": "fake-small",
                "provider": "mock",
                "upstream_id": "small-v2",
                "input_price": 0.15,
                "output_price": 0.6,
                "context_window": 128000,
                "capabilities": ["tools", "vision"],
            }
        ]
    )
    (info,) = Catalog.build(config, entries=[]).get("fake-small")
    assert info == model(
        "fake-small",
        "mock",
        inp="0.15",
        out="0.6",
        ctx=128000,
        caps=("tools", "vision"),
        upstream_id="small-v2",
    )


def test_provider_models_list_says_what_the_provider_serves() -> None:
    entries = [model("a", "openai"), model("b", "openai"), model("c", "groq")]
    config = config_with(providers={"openai": {"models": ["a"]}, "proxy": {"models": ["c", "a"]}})
    catalog = Catalog.build(config, entries=entries)
    assert {(m.provider, m.id) for m in catalog.entries()} == {
        ("openai", "a"),
        ("groq", "c"),
        ("proxy", "c"),
        ("proxy", "a"),
    }
    copied = catalog.find("proxy", "c")
    assert copied is not None and copied.input_price == entries[2].input_price


def test_provider_models_list_with_an_unknown_id_asks_for_a_models_entry() -> None:
    config = config_with(providers={"mock": {"models": ["ghost"]}})
    with pytest.raises(ConfigError, match=r"\[providers.mock\] models: unknown model 'ghost'"):
        Catalog.build(config, entries=[])


def test_close_matches_suggest_known_ids() -> None:
    catalog = Catalog.build(Config(), entries=[model("gpt-4o"), model("gpt-4.1"), model("o3")])
    assert catalog.close_matches("gpt-4x") == ["gpt-4o", "gpt-4.1"]
    assert catalog.close_matches("openai/gpt-4x") == ["gpt-4o", "gpt-4.1"]
    assert catalog.close_matches("something-else") == []
