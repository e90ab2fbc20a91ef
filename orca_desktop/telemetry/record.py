"""The request record: one per authenticated request, the unit of telemetry.

Its JSON form is the contract of `/orca/v1/requests`, `/orca/v1/events` and
`orca-desktop tail` (PRODUCT.md, Telemetry). It never holds prompt or
completion text, and never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(frozen=True, slots=True)
class CandidateView:
    """One model the router considered, with its estimated cost and why it was excluded."""

    model: str
    provider: str
    estimated_cost_usd: Decimal | None
    excluded: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider,
            "estimated_cost_usd": _num(self.estimated_cost_usd),
            "excluded": self.excluded,
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream call made for a request; `status` is the HTTP status, 0 when none came."""

    model: str
    provider: str
    status: int
    error: str | None
    duration_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider,
            "status": self.status,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
        }


@dataclass(slots=True)
class RequestRecord:
    """Everything known about one request once it has ended.

    Mutable while the request runs (the handler fills it in), frozen by
    convention once published in a `RequestFinished` event.
    """

    id: str
    started_at: str  # ISO 8601 UTC
    endpoint: str
    client: str | None = None
    requested_model: str | None = None
    router: str | None = None
    strategy: str | None = None
    reason: str | None = None
    provider: str | None = None
    model: str | None = None
    byok: bool | None = None
    status: int = 0
    error: str | None = None
    stream: bool = False
    candidates: list[CandidateView] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: Decimal | None = None
    reference_model: str | None = None
    reference_cost_usd: Decimal | None = None
    savings_usd: Decimal | None = None
    overhead_ms: float | None = None
    upstream_ms: float | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    dropped: list[str] = field(default_factory=list)
    """What a translation to the serving provider's API left out, by name."""
    cache_write_tokens: int | None = None
    """Prompt tokens written to a prompt cache (a subset of `prompt_tokens`); None: unknown."""

    def to_json(self) -> dict[str, Any]:
        """The record as PRODUCT.md's Telemetry section gives it; money as JSON numbers."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "endpoint": self.endpoint,
            "client": self.client,
            "requested_model": self.requested_model,
            "router": self.router,
            "strategy": self.strategy,
            "reason": self.reason,
            "provider": self.provider,
            "model": self.model,
            "byok": self.byok,
            "status": self.status,
            "error": self.error,
            "stream": self.stream,
            "candidates": [c.to_json() for c in self.candidates],
            "attempts": [a.to_json() for a in self.attempts],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": _num(self.cost_usd),
            "reference_model": self.reference_model,
            "reference_cost_usd": _num(self.reference_cost_usd),
            "savings_usd": _num(self.savings_usd),
            "overhead_ms": _ms(self.overhead_ms),
            "upstream_ms": _ms(self.upstream_ms),
            "ttft_ms": _ms(self.ttft_ms),
            "duration_ms": _ms(self.duration_ms),
            "dropped": list(self.dropped),
            "cache_write_tokens": self.cache_write_tokens,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        """Inverse of `to_json` (schema-1 telemetry stores hold records as this JSON)."""
        money = ("cost_usd", "reference_cost_usd", "savings_usd")
        known = _FIELDS - {"candidates", "attempts", *money}
        # keys this version does not know (a newer store) are ignored, not fatal
        kwargs = {k: v for k, v in data.items() if k in known}
        for k in money:
            kwargs[k] = _dec(data.get(k))
        kwargs["candidates"] = [
            CandidateView(
                model=c["model"],
                provider=c["provider"],
                estimated_cost_usd=_dec(c.get("estimated_cost_usd")),
                excluded=c.get("excluded"),
            )
            for c in data.get("candidates") or []
        ]
        kwargs["attempts"] = [Attempt(**a) for a in data.get("attempts") or []]
        # JSON written before these fields existed has no key for them: their defaults
        kwargs["dropped"] = list(data.get("dropped") or [])
        return cls(**kwargs)


_FIELDS = frozenset(RequestRecord.__dataclass_fields__)


def _num(value: Decimal | None) -> float | int | None:
    """Decimal → JSON number without float noise beyond 12 decimal places. Never raises."""
    if value is None:
        return None
    try:
        return float(round(value, 12))
    except InvalidOperation:  # more than 28 digits once rounded: float keeps ~17 anyway
        return float(value)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
