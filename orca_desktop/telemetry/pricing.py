"""What a request cost, what it would have cost on the reference model, and the difference.

Owns `Usage`, `cost_usd`, `estimated_cost_usd`, `reference_cost_usd` and
`savings_usd`. Money is Decimal throughout. Prices come from the genai-prices
package's bundled data when it knows the model for that provider at the
catalog's price (it then also applies long-context tiers); otherwise from the
catalog entry, so a price set in the config is what gets charged.

Never touches the network: genai-prices' `UpdatePrices` is never started.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from orca_desktop.routing.catalog import Catalog, ModelInfo, genai_prices_provider
from orca_desktop.routing.requirements import Requirements

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one request as the provider reported them.

    `prompt` is the total input, cached tokens included (OpenAI's
    prompt_tokens; for Anthropic add cache reads and writes to input_tokens).
    `completion` includes `reasoning`; `cached` and `reasoning` are subsets.
    """

    prompt: int
    completion: int
    cached: int = 0
    reasoning: int = 0


def cost_usd(model: ModelInfo, usage: Usage) -> Decimal | None:
    """The cost of `usage` on `model`; None when it cannot be known (negative counts)."""
    if usage.prompt < 0 or usage.completion < 0 or usage.cached < 0:
        return None
    priced = _genai_cost(model, usage)
    if priced is not None:
        return priced
    return _catalog_cost(model, usage)


def estimated_cost_usd(model: ModelInfo, req: Requirements, default_max_output: int) -> Decimal:
    """The router's estimate: prompt tokens at the input price plus expected output."""
    output = req.max_output_tokens or default_max_output
    return (model.input_price * req.prompt_tokens + model.output_price * output) / _MILLION


def reference_model(catalog: Catalog, model_id: str) -> ModelInfo | None:
    """The catalog entry savings are measured against (first provider listed)."""
    found = catalog.lookup(model_id)
    return found[0] if found else None


def reference_cost_usd(reference: ModelInfo | None, usage: Usage) -> Decimal | None:
    """The same usage at the reference model's prices."""
    return cost_usd(reference, usage) if reference is not None else None


def savings_usd(cost: Decimal | None, reference_cost: Decimal | None) -> Decimal | None:
    """Reference cost minus actual cost; negative when the served model was dearer."""
    if cost is None or reference_cost is None:
        return None
    return reference_cost - cost


def _catalog_cost(model: ModelInfo, usage: Usage) -> Decimal:
    cached = min(usage.cached, usage.prompt)
    cached_price = model.cached_input_price
    if cached_price is None:
        cached_price = model.input_price
    total = (
        model.input_price * (usage.prompt - cached)
        + cached_price * cached
        + model.output_price * usage.completion
    )
    return total / _MILLION


def _genai_cost(model: ModelInfo, usage: Usage) -> Decimal | None:
    ref = _genai_ref(model.provider, model.upstream_id, model.id)
    if ref is None:
        return None
    model_ref, provider_id, base_in, base_out, flat = ref
    if base_in != model.input_price or base_out != model.output_price:
        return None  # the catalog price was overridden: charge what the user configured
    cached = min(usage.cached, usage.prompt)
    if flat is not None:
        # Flat per-token prices (almost every model): the same arithmetic genai-prices
        # does, without its per-call lookup, which costs ~150 µs on the request path.
        input_mtok, output_mtok, cache_read_mtok = flat
        read_mtok = input_mtok if cache_read_mtok is None else cache_read_mtok
        uncached = usage.prompt - cached
        total = input_mtok * uncached + read_mtok * cached + output_mtok * usage.completion
        return total / _MILLION
    from genai_prices import Usage as GenaiUsage
    from genai_prices import calc_price

    calc = calc_price(
        GenaiUsage(
            input_tokens=usage.prompt,
            output_tokens=usage.completion,
            cache_read_tokens=cached or None,
        ),
        model_ref,
        provider_id=provider_id,
    )
    return Decimal(calc.total_price)


@lru_cache(maxsize=1024)
def _genai_ref(
    provider: str, upstream_id: str, model_id: str
) -> tuple[str, str, Any, Any, tuple[Decimal, Decimal, Decimal | None] | None] | None:
    """(model ref, genai provider id, base input price, base output price, flat prices).

    `flat` is (input, output, cache read) per million tokens when the model's
    price has no tiers; None sends the cost through genai-prices' own calculation.
    None overall when genai-prices does not know the model.
    """
    from genai_prices import Usage as GenaiUsage
    from genai_prices import calc_price

    provider_id = genai_prices_provider(provider)
    for candidate in dict.fromkeys((upstream_id, model_id)):
        ref = _strip_prefix(candidate, provider, provider_id)
        try:
            calc = calc_price(
                GenaiUsage(input_tokens=1, output_tokens=1), ref, provider_id=provider_id
            )
        except LookupError:
            continue
        price = calc.model_price
        return ref, provider_id, _base(price.input_mtok), _base(price.output_mtok), _flat(price)
    return None


def _flat(price: Any) -> tuple[Decimal, Decimal, Decimal | None] | None:
    values = (price.input_mtok, price.output_mtok, price.cache_read_mtok)
    if not all(v is None or isinstance(v, Decimal) for v in values):
        return None  # tiered prices
    if values[0] is None or values[1] is None:
        return None
    return values[0], values[1], values[2]


def _strip_prefix(model_ref: str, provider: str, provider_id: str) -> str:
    """`openai/gpt-4o` → `gpt-4o` when the prefix names the serving provider itself."""
    prefix, sep, rest = model_ref.partition("/")
    if sep and prefix in (provider, provider_id):
        return rest
    return model_ref


def _base(value: object) -> Any:
    base = getattr(value, "base", None)
    return base if base is not None else value
