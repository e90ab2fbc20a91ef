"""Factories for GUI test inputs: request records with good defaults, keyword-only options."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orca_desktop.events import RequestFinished, RequestReceived
from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord

_ids = itertools.count(1)
_T0 = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def make_record(
    *,
    id: str | None = None,
    requested: str = "auto",
    model: str | None = "gpt-4o-mini",
    provider: str | None = "openai",
    status: int = 200,
    error: str | None = None,
    cost: str | None = "0.000315",
    saved: str | None = "0.004935",
    overhead_ms: float | None = 0.84,
    client: str | None = "openai-python",
    candidates: list[CandidateView] | None = None,
    attempts: list[Attempt] | None = None,
    seconds: int | None = None,
) -> RequestRecord:
    n = next(_ids)
    rid = id or f"req_{n:05d}"
    started = _T0 + timedelta(seconds=n if seconds is None else seconds)
    if candidates is None:
        candidates = [
            CandidateView("gpt-4o-mini", "openai", Decimal("0.000315")),
            CandidateView(
                "claude-haiku-4-5", "anthropic", Decimal("0.00204"), excluded="no key for anthropic"
            ),
            CandidateView("gpt-4o", "openai", Decimal("0.00525")),
        ]
    if attempts is None:
        attempts = [Attempt(model or "gpt-4o-mini", provider or "openai", status, error, 412.5)]
    return RequestRecord(
        id=rid,
        started_at=started.isoformat(),
        endpoint="/v1/chat/completions",
        client=client,
        requested_model=requested,
        router="auto",
        strategy="cheapest",
        reason="cheapest capable model with a key",
        provider=provider,
        model=model,
        byok=True,
        status=status,
        error=error,
        candidates=candidates,
        attempts=attempts,
        prompt_tokens=1200,
        completion_tokens=225,
        cost_usd=None if cost is None else Decimal(cost),
        reference_model="gpt-4o",
        reference_cost_usd=Decimal("0.00525"),
        savings_usd=None if saved is None else Decimal(saved),
        overhead_ms=overhead_ms,
        upstream_ms=412.5,
        ttft_ms=180.2,
        duration_ms=415.0,
    )


def finished(record: RequestRecord) -> RequestFinished:
    return RequestFinished(request_id=record.id, at_ns=0, record=record)


def received(record: RequestRecord) -> RequestReceived:
    return RequestReceived(
        request_id=record.id,
        at_ns=0,
        endpoint=record.endpoint,
        requested_model=record.requested_model,
        client=record.client,
    )
