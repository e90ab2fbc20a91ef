"""What a request cost, what it would have cost on the reference model, and the difference.

Owns `Usage`, `cost_usd`, `estimated_cost_usd`, `reference_cost_usd` and
`savings_usd`. Money is Decimal throughout. Prices come from the genai-prices
package's bundled data when it knows the model for that provider at the
catalog's price (it then also applies long-context tiers); otherwise from the
catalog entry, so a price set in the config is what gets charged. The
genai-prices numbers are read from `routing.prices.TABLE`, so a cost is
computed without importing genai-prices, except for a model genai-prices
prices in ways our arithmetic does not cover.

Never touches the network: genai-prices' `UpdatePrices` is never started.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from orca_desktop.routing.catalog import Catalog, ModelInfo
from orca_desktop.routing.prices import TABLE, KnownModel, Price, Rates, Tiered, base_price
from orca_desktop.routing.requirements import Requirements

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one request as the provider reported them.

    `prompt` is the total input, cached tokens included (OpenAI's
    prompt_tokens; for Anthropic add cache reads and writes to input_tokens).
    `completion` includes `reasoning`; `cached` (cache reads), `cache_write`
    (tokens written to a prompt cache) and `reasoning` are subsets.
    """

    prompt: int
    completion: int
    cached: int = 0
    reasoning: int = 0
    cache_write: int = 0


def cost_usd(model: ModelInfo, usage: Usage) -> Decimal | None:
    """The cost of `usage` on `model`; None when it cannot be known (negative counts)."""
    if min(usage.prompt, usage.completion, usage.cached, usage.cache_write) < 0:
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


def _split_prompt(usage: Usage) -> tuple[int, int, int]:
    """(uncached input, cache reads, cache writes): the prompt split three ways.

    Counts the provider reported beyond the prompt are clamped to it, reads first.
    """
    cached = min(usage.cached, usage.prompt)
    written = min(usage.cache_write, usage.prompt - cached)
    return usage.prompt - cached - written, cached, written


def _catalog_cost(model: ModelInfo, usage: Usage) -> Decimal:
    # The catalog has no cache-write price: cache writes cost the input price.
    uncached, cached, written = _split_prompt(usage)
    cached_price = model.cached_input_price
    if cached_price is None:
        cached_price = model.input_price
    total = (
        model.input_price * (uncached + written)
        + cached_price * cached
        + model.output_price * usage.completion
    )
    return total / _MILLION


def _genai_cost(model: ModelInfo, usage: Usage) -> Decimal | None:
    found = _genai_rates(model.provider, model.upstream_id, model.id)
    if found is None:
        return None
    known, rates = found
    base = (base_price(rates.input), base_price(rates.output))
    if base != (model.input_price, model.output_price):
        return None  # the catalog price was overridden: charge what the user configured
    uncached, cached, written = _split_prompt(usage)
    if rates.exact:
        # genai-prices' arithmetic for input, cache reads, cache writes and output tokens,
        # without its per-call lookup (~150 µs on the request path) or its import (~5 MiB
        # resident). A cache price genai-prices lacks is the input price, as there.
        assert rates.input is not None and rates.output is not None
        input_mtok = _at(rates.input, usage.prompt)
        read, write = rates.cache_read, rates.cache_write
        read_mtok = input_mtok if read is None else _at(read, usage.prompt)
        write_mtok = input_mtok if write is None else _at(write, usage.prompt)
        output_mtok = _at(rates.output, usage.prompt)
        total = (
            input_mtok * uncached
            + read_mtok * cached
            + write_mtok * written
            + output_mtok * usage.completion
        )
        return total / _MILLION
    from genai_prices import Usage as GenaiUsage
    from genai_prices import calc_price

    calc = calc_price(
        GenaiUsage(
            input_tokens=usage.prompt,
            output_tokens=usage.completion,
            cache_read_tokens=cached or None,
            cache_write_tokens=written or None,
        ),
        known.ref,
        provider_id=known.provider_id,
    )
    return Decimal(calc.total_price)


@lru_cache(maxsize=1024)
def _genai_rates(provider: str, upstream_id: str, model_id: str) -> tuple[KnownModel, Rates] | None:
    """genai-prices' entry for a catalog model and the rates in force at its first use.

    None when genai-prices does not know the model. The rates stay fixed for
    the process, like the catalog prices they are checked against.
    """
    known = TABLE.find(provider, upstream_id, model_id)
    return None if known is None else (known, known.rates())


def _at(price: Price, input_tokens: int) -> Decimal:
    """The price per million tokens for a request with `input_tokens` of input."""
    return price.at(input_tokens) if isinstance(price, Tiered) else price
