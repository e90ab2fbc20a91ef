"""Routing: pure decisions about which model serves a request. No I/O, no keys, no aiohttp."""

from __future__ import annotations

from orca_desktop.routing.catalog import CAPABILITIES, Catalog, ModelInfo
from orca_desktop.routing.cooldown import Cooldowns, LatencyTracker
from orca_desktop.routing.reach import Reach, Route, no_key_message, route_for
from orca_desktop.routing.requirements import Requirements, requirements_of
from orca_desktop.routing.router import (
    AUTO_ALIASES,
    AUTO_CHAIN_LENGTH,
    Candidate,
    RouteDecision,
    Router,
    RoutingError,
)
from orca_desktop.routing.tokens import estimate_prompt_tokens, estimate_text_tokens

__all__ = [
    "AUTO_ALIASES",
    "AUTO_CHAIN_LENGTH",
    "CAPABILITIES",
    "Candidate",
    "Catalog",
    "Cooldowns",
    "LatencyTracker",
    "ModelInfo",
    "Reach",
    "Requirements",
    "Route",
    "RouteDecision",
    "Router",
    "RoutingError",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "no_key_message",
    "requirements_of",
    "route_for",
]
