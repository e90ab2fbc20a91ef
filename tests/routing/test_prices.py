"""The genai-prices table: genai-prices' own numbers, and a cache file that is only a shortcut."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import Usage as GenaiUsage
from genai_prices import calc_price

from orca_desktop.config import Config
from orca_desktop.routing import Catalog, prices
from orca_desktop.routing.catalog import BUNDLED_PRICES_PATH
from orca_desktop.routing.prices import (
    CACHE_FORMAT,
    PriceTable,
    Tiered,
    genai_prices_provider,
    genai_prices_version,
)
from orca_desktop.telemetry.pricing import Usage, cost_usd

REPO = Path(__file__).resolve().parents[2]


def bundled_refs() -> list[tuple[str, str]]:
    raw = json.loads((REPO / "resources" / "catalog.json").read_text())["models"]
    return [(genai_prices_provider(m["provider"]), m.get("upstream_id") or m["id"]) for m in raw]


def filled_table(version: str | None = None) -> PriceTable:
    table = PriceTable(version)
    for provider_id, ref in bundled_refs():
        table.model(provider_id, ref)
    return table


@pytest.mark.parametrize(
    "usage",
    [
        Usage(prompt=1_000, completion=500),
        Usage(prompt=50_000, completion=2_000, cached=40_000),
        Usage(prompt=300_000, completion=1_000, cached=10_000),  # past long-context tiers
        Usage(prompt=0, completion=0),
        Usage(prompt=12_000, completion=300, cache_write=12_000),
        Usage(prompt=60_000, completion=900, cached=40_000, cache_write=15_000),
        Usage(prompt=250_000, completion=900, cached=100_000, cache_write=120_000),
    ],
)
def test_every_bundled_model_costs_what_genai_prices_says(
    usage: Usage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cache reads and writes included, and without importing genai-prices for the cost."""
    import genai_prices

    catalog = Catalog.build(Config())
    exact = 0
    compared = 0
    for info in catalog.entries():
        provider_id = genai_prices_provider(info.provider)
        try:
            expected = calc_price(
                _genai_usage(usage),
                info.upstream_id,
                provider_id=provider_id,
            ).total_price
        except LookupError:
            continue
        known = prices.TABLE.find(info.provider, info.upstream_id, info.id)
        assert known is not None
        with monkeypatch.context() as patched:
            if known.rates().exact:
                patched.setattr(genai_prices, "calc_price", _not_called)
                exact += 1
            assert cost_usd(info, usage) == expected, (info.provider, info.id)
        compared += 1
    assert compared >= 20
    assert exact >= 20


def _not_called(*args: object, **kwargs: object) -> None:
    raise AssertionError("a cost the table covers asked genai-prices")


def _genai_usage(usage: Usage) -> GenaiUsage:
    return GenaiUsage(
        input_tokens=usage.prompt,
        output_tokens=usage.completion,
        cache_read_tokens=usage.cached or None,
        cache_write_tokens=usage.cache_write or None,
    )


@pytest.mark.parametrize("hour", [0, 1, 3, 7, 12, 16, 17, 23])
@pytest.mark.parametrize(
    ("provider_id", "ref"),
    [("deepseek", "deepseek-chat"), ("deepseek", "deepseek-flash"), ("openai", "o3")],
)
def test_conditional_prices_are_picked_as_genai_prices_picks_them(
    provider_id: str, ref: str, hour: int
) -> None:
    """Off-peak hours and price changes on a date select the same price as genai-prices."""
    known = PriceTable("test").model(provider_id, ref)
    assert known is not None
    for day in ("2025-01-01", "2026-10-13", "2026-10-14", "2027-06-01"):
        moment = datetime.fromisoformat(f"{day}T{hour:02d}:45:00+00:00")
        theirs = calc_price(
            GenaiUsage(input_tokens=1, output_tokens=1),
            ref,
            provider_id=provider_id,
            genai_request_timestamp=moment,
        ).model_price
        ours = known.rates(moment)
        assert prices.base_price(ours.input) == _base(theirs.input_mtok), moment
        assert prices.base_price(ours.output) == _base(theirs.output_mtok), moment


def _base(value: object) -> object:
    return getattr(value, "base", value)


def test_a_tier_applies_to_every_token_once_the_input_passes_it() -> None:
    price = Tiered(Decimal("3"), ((200_000, Decimal("6")), (1_000_000, Decimal("9"))))
    assert [price.at(n) for n in (0, 200_000, 200_001, 1_000_001)] == [
        Decimal("3"),
        Decimal("3"),
        Decimal("6"),
        Decimal("9"),
    ]


def test_each_model_is_asked_once_and_unknown_ones_are_remembered() -> None:
    table = PriceTable("test")
    assert table.model("mock", "no-such-model") is None
    assert table.model("openai", "gpt-4o") is not None
    assert table.model("mock", "no-such-model") is None
    assert table.model("openai", "gpt-4o") is not None
    assert table.asked == 2


def test_lookup_strips_the_serving_providers_prefix_then_tries_the_catalog_id() -> None:
    table = PriceTable("test")
    plain = table.model("openai", "gpt-4o")
    assert table.find("openai", "openai/gpt-4o", "x") == plain
    by_id = table.find("openrouter", "some/unknown", "openai/gpt-4o")
    assert by_id is not None and by_id == table.model("openrouter", "openai/gpt-4o")
    assert table.find("mock", "mock-gpt", "mock-gpt") is None
    assert table.find("gemini", "gemini-2.5-pro", "x") == table.model("google", "gemini-2.5-pro")


def test_cache_hit_answers_without_asking_genai_prices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.json"
    original = filled_table()
    assert original.model("mock", "no-such-model") is None
    original.save(path)

    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(prices, "_ask_genai_prices", lambda p, r: asked.append((p, r)))
    loaded = PriceTable(original.version)
    assert loaded.load(path)
    for provider_id, ref in [*bundled_refs(), ("mock", "no-such-model")]:
        assert loaded.model(provider_id, ref) == original.model(provider_id, ref)
    assert asked == [] and loaded.asked == 0


def test_cache_for_another_genai_prices_version_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    old = PriceTable("0.0.1")
    old._models[("openai", "gpt-4o")] = None  # what an old version might have said
    old.save(path)

    current = PriceTable()
    assert not current.load(path)
    found = current.model("openai", "gpt-4o")
    assert found is not None and current.asked == 1
    assert found.rates().input == Decimal("2.5")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff not json",
        b"[]",
        b'{"format": 2}',
        b'{"format": 999, "genai_prices": "VERSION", "models": []}',
        # format 1 (no cache-write prices): rebuilt, never read as if writes cost the input price
        b'{"format": 1, "genai_prices": "VERSION", "models": []}',
        # format 2 needs the cache-write price, null when genai-prices has none
        b'{"format": 2, "genai_prices": "VERSION", "models": [{"provider": "openai", '
        b'"ref": "gpt-4o", "prices": [{"input": "1", "output": "1", "cache_read": null, '
        b'"exact": true}]}]}',
        b'{"format": 2, "genai_prices": "VERSION", "models": [{"provider": "openai", '
        b'"ref": "gpt-4o", "prices": [{"input": "1", "output": "1", "cache_read": null, '
        b'"cache_write": "-2", "exact": true}]}]}',
        b'{"format": 2, "genai_prices": "VERSION", "models": {}}',
        b'{"format": 2, "genai_prices": "VERSION", "models": [{"provider": "openai"}]}',
        b'{"format": 2, "genai_prices": "VERSION", "models": [{"provider": "openai", '
        b'"ref": "gpt-4o", "prices": [{"input": "abc", "output": "1", "cache_read": null, '
        b'"exact": true}]}]}',
        b'{"format": 2, "genai_prices": "VERSION", "models": [{"provider": "openai", '
        b'"ref": "gpt-4o", "prices": [{"input": "-1", "output": "1", "cache_read": null, '
        b'"exact": true}]}]}',
        b'{"format": 2, "genai_prices": "VERSION", "models": [{"provider": "openai", '
        b'"ref": "gpt-4o", "prices": []}]}',
        b'{"format": 2, "genai_prices": "VERSION", "models": [{"provider": "openai", '
        b'"ref": "gpt-4o", "prices": [{"input": "1", "output": "1", "cache_read": null, '
        b'"cache_write": null, "exact": true, "since": "yesterday"}]}]}',
    ],
)
def test_corrupt_cache_is_ignored_and_the_catalog_still_builds(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(content.replace(b"VERSION", genai_prices_version().encode()))
    assert not PriceTable().load(path)

    expected = Catalog.build(Config())
    rebuilt = Catalog.build(Config(), price_cache=path)
    assert rebuilt.entries() == expected.entries()
    assert PriceTable().load(path)  # rewritten, now usable


def test_catalog_build_writes_a_cache_with_the_entries_pricing_looks_up(tmp_path: Path) -> None:
    path = tmp_path / "data" / "prices.json"
    config = Config.model_validate(
        {"models": [{"id": "gpt-4o", "provider": "openrouter", "upstream_id": "openai/gpt-4o"}]}
    )
    Catalog.build(config, price_cache=path)
    saved = json.loads(path.read_text())
    assert saved["format"] == CACHE_FORMAT
    assert saved["genai_prices"] == genai_prices_version()
    keys = {(m["provider"], m["ref"]) for m in saved["models"]}
    assert set(bundled_refs()) <= keys
    assert ("openrouter", "openai/gpt-4o") in keys


def test_unwritable_cache_is_not_an_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    catalog = Catalog.build(Config(), price_cache=blocked / "prices.json")
    assert catalog.find("openai", "gpt-4o") is not None


def run_start_up(cache: Path, config_toml: str = "") -> tuple[bool, str]:
    """In a fresh interpreter: build the catalog as the app does, price every entry; report
    whether genai-prices got imported, and the total."""
    script = textwrap.dedent(
        f"""
        import sys, tomllib
        from pathlib import Path
        from orca_desktop.config import Config
        from orca_desktop.routing import Catalog
        from orca_desktop.telemetry.pricing import Usage, cost_usd
        config = Config.model_validate(tomllib.loads({config_toml!r}))
        catalog = Catalog.build(config, price_cache=Path({str(cache)!r}))
        total = sum(cost_usd(m, Usage(300_000, 1_000, 1_000)) or 0 for m in catalog.entries())
        print("genai_prices" in sys.modules, total)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    )
    imported, total = out.stdout.split()
    return imported == "True", total


def test_first_start_uses_the_shipped_table_and_never_imports_genai_prices(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "data" / "prices.json"
    first, second = run_start_up(cache), run_start_up(cache)
    assert first[0] is False and second == first
    assert PriceTable().load(cache)


def test_a_model_the_shipped_table_lacks_is_asked_once_then_cached(tmp_path: Path) -> None:
    cache = tmp_path / "prices.json"
    config = '[[models]]\nid = "gpt-4o"\nprovider = "openrouter"\nupstream_id = "openai/gpt-4o"\n'
    first, second = run_start_up(cache, config), run_start_up(cache, config)
    assert first[0] is True and second[0] is False
    assert first[1] == second[1]


def test_a_custom_provider_model_needs_no_genai_prices_even_on_a_first_start(
    tmp_path: Path,
) -> None:
    """genai-prices knows nothing at a provider it does not list (a local server, a mock):
    the shipped list of its providers answers that without importing it."""
    cache = tmp_path / "data" / "prices.json"
    config = (
        '[providers.mock]\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[[models]]\nid = "mock-gpt"\nprovider = "mock"\ninput_price = 0.15\n'
        "output_price = 0.6\ncontext_window = 128000\n"
    )
    first, second = run_start_up(cache, config), run_start_up(cache, config)
    assert first[0] is False and second == first


def test_a_cache_without_the_provider_list_still_asks(tmp_path: Path) -> None:
    """An older cache file (no "providers") is read, and misses are asked as before."""
    cache = tmp_path / "prices.json"
    table = PriceTable()
    assert table.load(BUNDLED_PRICES_PATH)
    raw = json.loads(BUNDLED_PRICES_PATH.read_text())
    del raw["providers"]
    cache.write_text(json.dumps(raw))
    old = PriceTable()
    assert old.load(cache)
    assert old.model("mock", "mock-gpt") is None and old.asked == 1
    assert table.model("mock", "mock-gpt") is None and table.asked == 0


def test_the_shipped_table_is_current() -> None:
    """Fails after a genai-prices upgrade or a catalog edit until
    `packaging/refresh_catalog_prices.py` is run."""
    shipped = PriceTable()
    assert shipped.load(BUNDLED_PRICES_PATH), "run packaging/refresh_catalog_prices.py"
    fresh = PriceTable("fresh")
    for provider_id, ref in bundled_refs():
        assert shipped.model(provider_id, ref) == fresh.model(provider_id, ref), ref
    assert shipped.asked == 0
