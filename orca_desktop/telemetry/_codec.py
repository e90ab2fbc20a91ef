"""How the store keeps a `RequestRecord`: a compact JSON array, exact and cheap to write.

The writer thread encodes every record, so encoding is the store's hot path.
A positional array built from a tuple costs a fraction of `to_json` (which
builds a dict per record and per candidate and rounds every number) and is
about half the size (no repeated keys), which also halves the file writes.

Stored form (schema 2): `[id, started_at, …, duration_ms]` in the order of
`STORED_FIELDS`; a candidate is `[model, provider, estimated_cost_usd,
excluded]`, an attempt `[model, provider, status, error, duration_ms]`. Money
is a decimal string (exact), every other number as it was (unrounded), so
`decode(encode(r)) == r` and `to_json` at read time gives the bytes it would
have given at write time. A field added to `RequestRecord` later is appended
at the end; `decode` gives fields missing from older rows their default.

Schema-1 rows hold `to_json()` text (a JSON object): `decode` reads both, and
`api_json` returns such text as it is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord

STORED_FIELDS = (
    "id",
    "started_at",
    "endpoint",
    "client",
    "requested_model",
    "router",
    "strategy",
    "reason",
    "provider",
    "model",
    "byok",
    "status",
    "error",
    "stream",
    "candidates",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd",
    "reference_model",
    "reference_cost_usd",
    "savings_usd",
    "overhead_ms",
    "upstream_ms",
    "ttft_ms",
    "duration_ms",
)
_MONEY = frozenset({"cost_usd", "reference_cost_usd", "savings_usd"})


def encode(r: RequestRecord) -> bytes:
    """The stored bytes of `r`. Raises `TypeError` for a value JSON cannot hold."""
    # Spelled out rather than looped over STORED_FIELDS: this runs once per
    # request on the writer thread, and the tuple display is ~5x faster.
    return orjson.dumps(
        (
            r.id,
            r.started_at,
            r.endpoint,
            r.client,
            r.requested_model,
            r.router,
            r.strategy,
            r.reason,
            r.provider,
            r.model,
            r.byok,
            r.status,
            r.error,
            r.stream,
            [(c.model, c.provider, _text(c.estimated_cost_usd), c.excluded) for c in r.candidates],
            [(a.model, a.provider, a.status, a.error, a.duration_ms) for a in r.attempts],
            r.prompt_tokens,
            r.completion_tokens,
            r.cached_tokens,
            r.reasoning_tokens,
            _text(r.cost_usd),
            r.reference_model,
            _text(r.reference_cost_usd),
            _text(r.savings_usd),
            r.overhead_ms,
            r.upstream_ms,
            r.ttft_ms,
            r.duration_ms,
        )
    )


def decode(stored: bytes | str) -> RequestRecord:
    """The record from its stored form, either schema's."""
    data = orjson.loads(stored)
    if isinstance(data, dict):  # schema 1: the record's JSON
        return RequestRecord.from_json(data)
    kwargs: dict[str, Any] = dict(zip(STORED_FIELDS, data, strict=False))
    for name in _MONEY & kwargs.keys():
        kwargs[name] = _dec(kwargs[name])
    kwargs["candidates"] = [
        CandidateView(model, provider, _dec(cost), excluded)
        for model, provider, cost, excluded in kwargs.get("candidates") or ()
    ]
    kwargs["attempts"] = [Attempt(*a) for a in kwargs.get("attempts") or ()]
    return RequestRecord(**kwargs)


def api_json(stored: bytes | str) -> bytes:
    """The record's PRODUCT.md JSON (`to_json`) from its stored form."""
    if isinstance(stored, str) and stored.startswith("{"):
        return stored.encode()  # schema 1 stored exactly this
    return orjson.dumps(decode(stored).to_json())


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))
