"""The model catalog: which models exist, who serves them, what they cost and can do.

Owns `ModelInfo` and `Catalog`. The built-in data is `resources/catalog.json`;
prices come from the genai-prices package wherever it knows the model (so a
package upgrade updates them), the JSON's prices are the fallback. The config's
`[[models]]` and `[providers.X].models` are applied on top.

It reads the bundled JSON once, in `Catalog.build`, and never touches the
network. genai-prices' numbers come through `routing.prices.TABLE`; given a
`price_cache` file, `Catalog.build` loads the table from it and saves what it
had to ask genai-prices, so a normal start-up never imports genai-prices.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from orca_desktop.config import Config, ConfigError, ModelConfig
from orca_desktop.routing.prices import (
    GENAI_PRICES_PROVIDERS,
    TABLE,
    PriceTable,
    base_price,
    genai_prices_provider,
)

__all__ = [
    "BUNDLED_PRICES_PATH",
    "CAPABILITIES",
    "DEFAULT_CATALOG_PATH",
    "GENAI_PRICES_PROVIDERS",
    "Catalog",
    "ModelInfo",
    "genai_prices_provider",
    "load_bundled",
    "undated",
]

CAPABILITIES = frozenset({"tools", "vision", "json_schema", "reasoning"})


def _bundled_catalog() -> Path:
    """resources/catalog.json: beside the package in a checkout, inside it in a wheel."""
    in_checkout = Path(__file__).resolve().parents[2] / "resources" / "catalog.json"
    if in_checkout.is_file():
        return in_checkout
    return Path(__file__).resolve().parents[1] / "resources" / "catalog.json"


DEFAULT_CATALOG_PATH = _bundled_catalog()
BUNDLED_PRICES_PATH = DEFAULT_CATALOG_PATH.with_name("genai-prices.json")
"""genai-prices' numbers for the bundled catalog, written by packaging/refresh_catalog_prices.py
for the pinned genai-prices; used when the data dir has no current price cache yet."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model as served by one provider; prices are USD per million tokens."""

    id: str
    provider: str
    upstream_id: str
    input_price: Decimal
    output_price: Decimal
    cached_input_price: Decimal | None
    context_window: int
    max_output_tokens: int | None
    capabilities: frozenset[str]


class Catalog:
    """Every (model, provider) pair known to this process, indexed by model id.

    Immutable once built. Lookups by id are dictionary reads; the order of
    `entries()` is the build order (bundled data first, then config additions).
    """

    __slots__ = ("_entries", "_by_id", "_by_lower")

    def __init__(self, entries: Iterable[ModelInfo]) -> None:
        self._entries: tuple[ModelInfo, ...] = tuple(entries)
        by_id: dict[str, list[ModelInfo]] = {}
        for info in self._entries:
            by_id.setdefault(info.id, []).append(info)
        self._by_id: dict[str, tuple[ModelInfo, ...]] = {k: tuple(v) for k, v in by_id.items()}
        self._by_lower: dict[str, str] = {}
        for model_id in self._by_id:
            self._by_lower.setdefault(model_id.lower(), model_id)

    @classmethod
    def build(
        cls,
        config: Config,
        *,
        entries: Iterable[ModelInfo] | None = None,
        catalog_path: Path | None = None,
        price_cache: Path | None = None,
    ) -> Catalog:
        """The catalog for `config`: bundled data (or `entries`), then the config on top.

        With `price_cache` (a file in the data dir), genai-prices' numbers are
        read from it when it was written for the installed genai-prices (else
        from the table shipped beside the catalog, under the same rule), and
        it is rewritten when anything had to be asked anew, including what
        pricing will look up for each entry, so requests never import
        genai-prices either. Raises ConfigError when a `[[models]]` entry or
        a provider's `models` list cannot be turned into a catalog entry.
        """
        asked_before = TABLE.asked
        cache_current = price_cache is not None and TABLE.load(price_cache)
        if price_cache is not None and not cache_current:
            TABLE.load(BUNDLED_PRICES_PATH)  # first start: still no need for genai-prices
        if entries is None:
            base = load_bundled(catalog_path or DEFAULT_CATALOG_PATH, TABLE)
        else:
            base = list(entries)
        with_models = _apply_model_configs(base, config.models)
        served = {pid: p.models for pid, p in config.providers.items() if p.models is not None}
        catalog = cls(_apply_provider_models(with_models, served))
        if price_cache is not None:
            for info in catalog.entries():
                TABLE.find(info.provider, info.upstream_id, info.id)
            if not cache_current or TABLE.asked != asked_before:
                TABLE.save(price_cache)
        return catalog

    def get(self, model_id: str) -> list[ModelInfo]:
        """Every provider's entry for `model_id` (exact id, else case-insensitive)."""
        return list(self.lookup(model_id))

    def lookup(self, model_id: str) -> tuple[ModelInfo, ...]:
        """`get` without the copy, for the router's hot path."""
        found = self._by_id.get(model_id)
        if found is None:
            canonical = self._by_lower.get(model_id.lower())
            if canonical is None:
                return ()
            found = self._by_id[canonical]
        return found

    def find(self, provider: str, model_id: str) -> ModelInfo | None:
        """The entry of `model_id` as served by `provider`, if any."""
        for info in self.lookup(model_id):
            if info.provider == provider:
                return info
        return None

    def entries(self) -> Sequence[ModelInfo]:
        return self._entries

    def ids(self) -> Sequence[str]:
        """Distinct model ids in build order."""
        return tuple(self._by_id)

    def providers(self) -> frozenset[str]:
        return frozenset(info.provider for info in self._entries)

    def close_matches(self, name: str, n: int = 3) -> list[str]:
        """Known ids resembling `name`, best first, for "did you mean" messages."""
        bare = name.split("/", 1)[1] if "/" in name and name not in self._by_id else name
        return difflib.get_close_matches(bare, list(self._by_id), n=n, cutoff=0.6)


def undated(model_id: str) -> str | None:
    """`model_id` without a trailing snapshot date, or None when it has none.

    A snapshot date is `-YYYYMMDD` (Anthropic: `claude-sonnet-4-5-20250929`)
    or `-YYYY-MM-DD` (OpenAI: `gpt-4o-2024-08-06`) in ASCII digits, with a
    month of 01-12 and a day of 01-31; nothing else (`-latest`, `-0613`, a
    longer number) counts.
    """
    if len(model_id) > 9 and model_id[-9] == "-":
        if _is_date(model_id[-8:-4], model_id[-4:-2], model_id[-2:]):
            return model_id[:-9]
    if len(model_id) > 11 and model_id[-11] == model_id[-6] == model_id[-3] == "-":
        if _is_date(model_id[-10:-6], model_id[-5:-3], model_id[-2:]):
            return model_id[:-11]
    return None


def _is_date(year: str, month: str, day: str) -> bool:
    digits = year + month + day
    return digits.isascii() and digits.isdigit() and 1 <= int(month) <= 12 and 1 <= int(day) <= 31


def load_bundled(path: Path, prices: PriceTable = TABLE) -> list[ModelInfo]:
    """The bundled catalog with prices refreshed from genai-prices where it knows them."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the built-in model catalog: {exc}") from None
    return [_with_genai_prices(_from_json(raw, path), prices) for raw in data["models"]]


def _from_json(raw: Mapping[str, Any], path: Path) -> ModelInfo:
    try:
        cached = raw.get("cached_input_price")
        caps = frozenset(raw.get("capabilities", ()))
        if not caps <= CAPABILITIES:
            raise ValueError(f"unknown capabilities {sorted(caps - CAPABILITIES)}")
        return ModelInfo(
            id=raw["id"],
            provider=raw["provider"],
            upstream_id=raw.get("upstream_id") or raw["id"],
            input_price=Decimal(raw["input_price"]),
            output_price=Decimal(raw["output_price"]),
            cached_input_price=Decimal(cached) if cached is not None else None,
            context_window=int(raw["context_window"]),
            max_output_tokens=raw.get("max_output_tokens"),
            capabilities=caps,
        )
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise ConfigError(f"{path}: bad model entry {raw.get('id')!r}: {exc!r}") from None


def _with_genai_prices(info: ModelInfo, prices: PriceTable) -> ModelInfo:
    """`info` with genai-prices' base prices (those in force now) when it knows the model."""
    known = prices.model(genai_prices_provider(info.provider), info.upstream_id)
    if known is None:
        return info
    rates = known.rates()
    inp, out = base_price(rates.input), base_price(rates.output)
    if inp is None or out is None:
        return info
    cached = base_price(rates.cache_read)
    return replace(
        info,
        input_price=inp,
        output_price=out,
        cached_input_price=cached if cached is not None else info.cached_input_price,
    )


_OVERRIDABLE = tuple(f.name for f in fields(ModelInfo) if f.name not in ("id", "provider"))


def _overrides(cfg: ModelConfig) -> dict[str, Any]:
    """The fields `cfg` sets, converted to ModelInfo's types."""
    out: dict[str, Any] = {}
    for name in _OVERRIDABLE:
        value = getattr(cfg, name)
        if value is None:
            continue
        if name.endswith("_price"):
            value = Decimal(str(value))
        elif name == "capabilities":
            value = frozenset(value)
        out[name] = value
    return out


def _apply_model_configs(base: list[ModelInfo], configs: Sequence[ModelConfig]) -> list[ModelInfo]:
    entries = list(base)
    for cfg in configs:
        changes = _overrides(cfg)
        matching = [
            i
            for i, info in enumerate(entries)
            if info.id == cfg.id and (cfg.provider is None or info.provider == cfg.provider)
        ]
        if matching:
            for i in matching:
                entries[i] = replace(entries[i], **changes)
            continue
        known = next((info for info in entries if info.id == cfg.id), None)
        if known is not None and cfg.provider is not None:
            # A known model served by one more provider: start from what we know.
            entries.append(replace(known, provider=cfg.provider, **changes))
            continue
        entries.append(_new_model(cfg))
    return entries


def _new_model(cfg: ModelConfig) -> ModelInfo:
    required = ("provider", "input_price", "output_price", "context_window")
    missing = [name for name in required if getattr(cfg, name) is None]
    if missing:
        raise ConfigError(
            f"[[models]] id = {cfg.id!r}: a model not in the built-in catalog needs "
            "provider, input_price, output_price and context_window "
            f"(missing: {', '.join(missing)})"
        )
    assert cfg.provider is not None and cfg.context_window is not None
    return ModelInfo(
        id=cfg.id,
        provider=cfg.provider,
        upstream_id=cfg.upstream_id or cfg.id,
        input_price=Decimal(str(cfg.input_price)),
        output_price=Decimal(str(cfg.output_price)),
        cached_input_price=(
            Decimal(str(cfg.cached_input_price)) if cfg.cached_input_price is not None else None
        ),
        context_window=cfg.context_window,
        max_output_tokens=cfg.max_output_tokens,
        capabilities=frozenset(cfg.capabilities or ()),
    )


def _apply_provider_models(
    entries: list[ModelInfo], served: Mapping[str, Sequence[str]]
) -> list[ModelInfo]:
    """Make each listed provider serve exactly its listed models.

    A listed id the provider does not serve yet is copied from another
    provider's entry; an id nobody serves needs a `[[models]]` entry.
    """
    if not served:
        return entries
    by_pair = {(info.provider, info.id): info for info in entries}
    result = [info for info in entries if info.provider not in served]
    for provider, model_ids in served.items():
        for model_id in dict.fromkeys(model_ids):
            info = by_pair.get((provider, model_id))
            if info is None:
                known = next((e for e in entries if e.id == model_id), None)
                if known is None:
                    raise ConfigError(
                        f"[providers.{provider}] models: unknown model {model_id!r}; "
                        f"add a [[models]] entry with id = {model_id!r}, provider = "
                        f"{provider!r}, input_price, output_price and context_window"
                    )
                info = replace(known, provider=provider)
            result.append(info)
    return result
