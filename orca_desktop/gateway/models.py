"""GET /v1/models: the models this user can reach, with price and capability fields."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from orca_desktop.gateway.context import CONTEXT, GatewayContext
from orca_desktop.routing.catalog import ModelInfo
from orca_desktop.routing.reach import route_for


async def handle_models(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    return web.Response(
        body=orjson.dumps({"object": "list", "data": reachable_models(ctx)}),
        content_type="application/json",
    )


def reachable_models(ctx: GatewayContext) -> list[dict[str, Any]]:
    """One item per catalog model that has a direct provider or a hosted router."""
    reach = ctx.reach
    seen: set[str] = set()
    items: list[dict[str, Any]] = []
    for model in ctx.catalog.entries():
        route = route_for(model, reach)  # the router's own rule, BYOK included
        if route is None or model.id in seen:
            continue
        seen.add(model.id)
        via = route.via
        items.append(
            _item(model, via, route.byok, ctx.specs[via].label if via in ctx.specs else via)
        )
    return items


def _item(model: ModelInfo, via: str, byok: bool, label: str) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": 0,
        "owned_by": model.provider,
        "provider": via,
        "provider_label": label,
        "byok": byok,
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "capabilities": sorted(model.capabilities),
        "pricing": {
            "input_per_mtok": float(model.input_price),
            "output_per_mtok": float(model.output_price),
            "cached_input_per_mtok": (
                float(model.cached_input_price) if model.cached_input_price is not None else None
            ),
        },
    }
