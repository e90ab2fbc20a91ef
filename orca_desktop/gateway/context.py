"""What the request handlers need, bundled once at start-up (no globals).

`GatewayContext` is built by the composition root and stored on the aiohttp
application under `CONTEXT`. Reachability is recomputed only when keys change.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from aiohttp import web

from orca_desktop.config import Config
from orca_desktop.events import EventHub
from orca_desktop.providers.base import Provider, ProviderSpec
from orca_desktop.routing import Catalog, Cooldowns, LatencyTracker, Reach, Router
from orca_desktop.routing.catalog import ModelInfo

if TYPE_CHECKING:
    from orca_desktop.keystore import KeyStore


@dataclass(slots=True)
class GatewayContext:
    config: Config
    keystore: KeyStore
    specs: dict[str, ProviderSpec]
    providers: dict[str, Provider]
    catalog: Catalog
    router: Router
    cooldowns: Cooldowns
    latency: LatencyTracker
    hub: EventHub
    demo: bool = False
    paused: bool = False
    reach: Reach = field(default_factory=lambda: Reach(direct=frozenset(), hosted_router=None))
    reference: ModelInfo | None = None

    def refresh_reach(self) -> None:
        """Recompute which providers are usable (after a key was saved or deleted).

        A keyless provider (local, demo) reached with no key of the user's is
        direct but not BYOK: its answers say `X-Orca-BYOK: false`.
        """
        direct: set[str] = set()
        keyless: set[str] = set()
        hosted: str | None = None
        for pid, spec in self.specs.items():
            has_key = self.keystore.get(pid) is not None
            if not has_key and not (spec.keyless and spec.configured):
                continue
            direct.add(pid)
            if not has_key:
                keyless.add(pid)
            if spec.hosted_router and hosted is None:
                hosted = pid
        self.reach = Reach(frozenset(direct), hosted, frozenset(keyless))
        ref = self.catalog.get(self.config.routing.reference_model)
        self.reference = ref[0] if ref else None


CONTEXT: web.AppKey[GatewayContext] = web.AppKey("orca_context", GatewayContext)


_ID_PREFIX = "orq_" + os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """Unique across restarts (random per-process prefix) and cheap (no syscall per id)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


_SECOND: list[object] = [-1, ""]


def utc_iso(now: float) -> str:
    """A `time.time()` value as ISO 8601 UTC with milliseconds ('2026-11-22T04:00:00.123Z').

    The seconds part is formatted once a second; this runs on every request.
    """
    second = int(now)
    if _SECOND[0] != second:
        _SECOND[0] = second
        _SECOND[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_SECOND[1]}.{int((now - second) * 1000):03d}Z"


_CLIENTS = (
    ("claude-cli", "claude-code"),
    ("claude-code", "claude-code"),
    ("aider", "aider"),
    ("continue", "continue"),
    ("cline", "cline"),
    ("roo", "roo-code"),
    ("zed", "zed"),
    ("cursor", "cursor"),
    ("jetbrains", "jetbrains"),
    ("openai/python", "openai-python"),
    ("openai/js", "openai-node"),
    ("anthropic/python", "anthropic-python"),
    ("anthropic/js", "anthropic-node"),
    ("curl", "curl"),
    ("python-httpx", "httpx"),
    ("python-requests", "requests"),
    ("aiohttp", "aiohttp"),
    ("wrk", "wrk"),
)


@lru_cache(maxsize=256)
def client_of(user_agent: str | None) -> str | None:
    """The client tool named by a User-Agent, e.g. 'OpenAI/Python 1.54' → 'openai-python'."""
    if not user_agent:
        return None
    ua = user_agent.lower()
    for needle, name in _CLIENTS:
        if needle in ua:
            return name
    return user_agent.split("/", 1)[0].split(" ", 1)[0][:40] or None
