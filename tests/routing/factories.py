"""Factories for routing tests: catalog entries, request bodies, a router with a manual clock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orca_desktop.config import Config
from orca_desktop.routing import (
    Catalog,
    Cooldowns,
    LatencyTracker,
    ModelInfo,
    Reach,
    Router,
    requirements_of,
)

ALL_CAPS = ("tools", "vision", "json_schema", "reasoning")


def model(
    id: str,
    provider: str = "openai",
    *,
    inp: str = "1",
    out: str = "2",
    cached: str | None = None,
    ctx: int = 128_000,
    max_out: int | None = None,
    caps: Sequence[str] = ("tools", "vision", "json_schema"),
    upstream_id: str | None = None,
) -> ModelInfo:
    return ModelInfo(
        id=id,
        provider=provider,
        upstream_id=upstream_id or id,
        input_price=Decimal(inp),
        output_price=Decimal(out),
        cached_input_price=Decimal(cached) if cached is not None else None,
        context_window=ctx,
        max_output_tokens=max_out,
        capabilities=frozenset(caps),
    )


def make_body(
    *,
    text: str = "hello",
    tools: bool = False,
    images: int = 0,
    json_schema: bool = False,
    reasoning_effort: str | None = None,
    max_tokens: int | None = None,
) -> dict[str, Any]:
    content: Any = text
    if images:
        content = [{"type": "text", "text": text}] + [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        ] * images
    body: dict[str, Any] = {"model": "auto", "messages": [{"role": "user", "content": content}]}
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    if json_schema:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {}},
        }
    if reasoning_effort is not None:
        body["reasoning_effort"] = reasoning_effort
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Setup:
    router: Router
    cooldowns: Cooldowns
    latency: LatencyTracker
    clock: ManualClock
    catalog: Catalog
    reach: Reach = field(default_factory=lambda: Reach(frozenset()))

    def decide(self, model_name: str, reach: Reach | None = None, **body_kw: Any) -> Any:
        fallbacks = body_kw.pop("fallbacks", ())
        route = body_kw.pop("route", None)
        req = requirements_of(make_body(**body_kw))
        return self.router.decide(
            model_name, fallbacks=fallbacks, route=route, req=req, reach=reach or self.reach
        )


def make_router(
    entries: Iterable[ModelInfo],
    *,
    config: Config | None = None,
    direct: Iterable[str] = ("openai", "anthropic", "groq"),
    hosted_router: str | None = None,
) -> Setup:
    config = config or Config()
    clock = ManualClock()
    catalog = Catalog.build(config, entries=entries)
    cooldowns = Cooldowns(clock)
    latency = LatencyTracker()
    router = Router(catalog, config, cooldowns, latency)
    return Setup(
        router, cooldowns, latency, clock, catalog, Reach(frozenset(direct), hosted_router)
    )
