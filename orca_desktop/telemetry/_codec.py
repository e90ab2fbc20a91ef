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
`api_json` returns such text as it is, once it has every key `to_json` gives
(text written before `dropped` and `cache_write_tokens` existed gets them
appended with their defaults).

`api_json` (the recent-requests endpoint, up to a few hundred records a call)
maps an array straight to the `to_json` object, without building a
`RequestRecord` and its candidates only to turn them into dicts again (that
round trip cost more than the rest of a read). It rounds with the record
module's own helpers, so the numbers are the ones `to_json` gives; the codec
tests compare the two bytewise.
"""

from __future__ import annotations

import re
from dataclasses import MISSING
from decimal import Decimal
from typing import Any

import orjson

from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord, _ms, _num

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
    "dropped",
    "cache_write_tokens",
)
_MONEY = frozenset({"cost_usd", "reference_cost_usd", "savings_usd"})
_PLAIN_MONEY = re.compile(r"-?[0-9]+(?:\.[0-9]{1,12})?")  # see `_money`
_TIMINGS = ("overhead_ms", "upstream_ms", "ttft_ms", "duration_ms")


def _default(name: str) -> Any:
    spec = RequestRecord.__dataclass_fields__[name]
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return None if spec.default is MISSING else spec.default


# What a field missing from an older (shorter) row reads as; id, started_at and
# endpoint have no default but every row has them.
_DEFAULTS = tuple(_default(name) for name in STORED_FIELDS)
# The last key `to_json` gives: schema-1 text holding it has every key.
_LAST_KEY = f'"{STORED_FIELDS[-1]}":'.encode()


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
            r.dropped,
            r.cache_write_tokens,
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
    """The record's PRODUCT.md JSON from its stored form: `orjson.dumps(record.to_json())`."""
    if isinstance(stored, str) and stored.startswith("{"):
        text = stored.encode()  # schema 1 stored exactly this
        return text if _LAST_KEY in text else _with_added_keys(text)
    data = orjson.loads(stored)
    if isinstance(data, dict):  # a schema-1 object that did not come as text
        return orjson.dumps(RequestRecord.from_json(data).to_json())
    return orjson.dumps(_api_object(data))


def _with_added_keys(text: bytes) -> bytes:
    """Schema-1 text with the keys added to `to_json` since it was written, at the end.

    Only keys are added (in `to_json` order, at their defaults); what was
    stored keeps its bytes' values, so the numbers are the ones sent then.
    """
    obj = orjson.loads(text)
    for name, default in zip(STORED_FIELDS, _DEFAULTS, strict=True):
        if name not in obj:
            obj[name] = default
    return orjson.dumps(obj)


def _api_object(data: list[Any]) -> dict[str, Any]:
    """`decode(data).to_json()` without the record: keys in `to_json` order, same values."""
    # A row of a newer version may have more fields: ignored, as `decode` does.
    padded = data[: len(STORED_FIELDS)] + list(_DEFAULTS[len(data) :])
    obj = dict(zip(STORED_FIELDS, padded, strict=True))
    # Existing keys are assigned below, so the order stays that of STORED_FIELDS.
    obj["candidates"] = [
        {
            "model": model,
            "provider": provider,
            "estimated_cost_usd": _money(cost),
            "excluded": excluded,
        }
        for model, provider, cost, excluded in obj["candidates"] or ()
    ]
    obj["attempts"] = [
        {
            "model": model,
            "provider": provider,
            "status": status,
            "error": error,
            "duration_ms": round(duration_ms, 3),
        }
        for model, provider, status, error, duration_ms in obj["attempts"] or ()
    ]
    for name in _MONEY:
        obj[name] = _money(obj[name])
    for name in _TIMINGS:
        obj[name] = _ms(obj[name])
    obj["dropped"] = list(obj["dropped"] or ())
    return obj


def _money(value: str | float | None) -> float | int | None:
    """`_num(_dec(value))`, what `to_json` makes of stored money, without a Decimal when it can.

    A plain decimal with at most 12 places (what `str(Decimal)` writes for
    nearly every price) is unchanged by `_num`'s rounding to 12 places, and
    `float` of the text is the correctly rounded double of that value, as
    `float(Decimal)` is. Anything else (exponents, more places) goes the long way.
    """
    if type(value) is str and _PLAIN_MONEY.fullmatch(value):
        return float(value)
    return _num(_dec(value))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))
