"""Orderings of candidate models: cheapest, fastest, by rules; and their precomputation.

Owns the ranking primitives the router combines: `Row` (a catalog entry with
float prices and a capability bit mask, built once), `Option` (a row with the
route that reaches it), cost and latency orderings, the K-skyband pruning
that keeps "cheapest of 500" to a few dozen comparisons, and rule matching.
Pure functions over frozen inputs; never does I/O, never raises for data.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable, Sequence
from decimal import Decimal

from orca_desktop.config import RuleConfig
from orca_desktop.routing.catalog import ModelInfo
from orca_desktop.routing.cooldown import LatencyTracker
from orca_desktop.routing.requirements import CAPABILITY_BITS, Requirements

LONG_CONTEXT_TOKENS = 32_000  # `long_context` rules without min_tokens
_PER_TOKEN = Decimal(1).scaleb(-6)


class Row:
    """A catalog entry prepared for ranking: float prices per token, capability bits.

    `tie` orders rows whose estimated costs are equal: by input then output
    price, then id, then provider, so every ordering is total and repeatable.
    """

    __slots__ = ("model", "input_f", "output_f", "input_d", "output_d", "mask", "context", "tie")

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        self.input_d = model.input_price * _PER_TOKEN
        self.output_d = model.output_price * _PER_TOKEN
        self.input_f = float(self.input_d)
        self.output_f = float(self.output_d)
        self.mask = 0
        for capability in model.capabilities:
            self.mask |= CAPABILITY_BITS.get(capability, 0)
        self.context = model.context_window
        self.tie = (self.input_f, self.output_f, model.id, model.provider)

    def cost_f(self, prompt_tokens: int, output_tokens: int) -> float:
        return self.input_f * prompt_tokens + self.output_f * output_tokens

    def cost_usd(self, prompt_tokens: int, output_tokens: int) -> Decimal:
        """The exact estimate (Decimal); computed only for candidates that are shown."""
        return self.input_d * prompt_tokens + self.output_d * output_tokens


class Option:
    """A row together with how it is reached (see reach.Route)."""

    __slots__ = ("row", "via", "upstream_model", "byok")

    def __init__(self, row: Row, via: str, upstream_model: str, byok: bool) -> None:
        self.row = row
        self.via = via
        self.upstream_model = upstream_model
        self.byok = byok


def rank_by_cost(options: Iterable[Option], prompt_tokens: int, output_tokens: int) -> list[Option]:
    """Cheapest first for this request's token counts; ties by `Row.tie`."""
    decorated = [
        (o.row.input_f * prompt_tokens + o.row.output_f * output_tokens, o.row.tie, o)
        for o in options
    ]
    decorated.sort(key=_first_two)
    return [item[2] for item in decorated]


def rank_by_latency(
    options: Iterable[Option], latency: LatencyTracker, prompt_tokens: int, output_tokens: int
) -> list[Option]:
    """Lowest measured time to first token first; equal ones cheapest first."""
    decorated = [
        (
            latency.ttft_ms(o.via, o.upstream_model),
            o.row.cost_f(prompt_tokens, output_tokens),
            o.row.tie,
            o,
        )
        for o in options
    ]
    decorated.sort(key=lambda item: (item[0], item[1], item[2]))
    return [item[3] for item in decorated]


def _first_two(item: tuple[float, tuple[float, float, str, str], Option]) -> tuple[object, ...]:
    return item[0], item[1]


def skyband(options: Sequence[Option], k: int) -> list[Option]:
    """The options that can be among the `k` cheapest for *some* token counts.

    An option is dropped when at least `k` others are no dearer on both
    input and output price and come first on `Row.tie`: for any positive
    prompt and output token counts those rank ahead of it. Ranking the
    survivors therefore gives exactly the top `k` of all `options`.
    """
    ordered = sorted(options, key=lambda o: o.row.tie)
    outputs_so_far: list[float] = []
    band: list[Option] = []
    for option in ordered:
        if bisect_right(outputs_so_far, option.row.output_f) < k:
            band.append(option)
        insort(outputs_so_far, option.row.output_f)
    return band


def rule_matches(rule: RuleConfig, req: Requirements) -> bool:
    when = rule.when
    if when == "always":
        return True
    if when == "has_tools":
        return req.tools
    if when == "has_images":
        return req.vision
    if when == "reasoning":
        return req.reasoning
    if when == "long_context":
        threshold = rule.min_tokens if rule.min_tokens is not None else LONG_CONTEXT_TOKENS
        return req.prompt_tokens >= threshold
    return False
