"""The `Core` facade: the one object the window and the CLI call into a running core.

Pause/resume, port, config, keys (saved, deleted, tested; never shown back),
telemetry snapshots. Built by `app.open_core`; never imports Qt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from orca_desktop.config import Config, ConfigError, RouterConfig, save_config
from orca_desktop.events import EventHub, GatewayStateChanged, KeyStatusChanged
from orca_desktop.gateway.context import GatewayContext
from orca_desktop.gateway.server import GatewayServer
from orca_desktop.keystore import KeyStore, run_off_loop
from orca_desktop.routing import Catalog, Router
from orca_desktop.telemetry.live import LiveView
from orca_desktop.telemetry.stats import Stats
from orca_desktop.telemetry.store import SqliteStore

KeyState = Literal["keyring", "env", "missing", "local"]

PRICE_CACHE_FILE = "genai-prices-cache.json"
"""In the data dir: genai-prices' numbers for the catalog, so a start need not import it."""


@dataclass(frozen=True, slots=True)
class ProviderState:
    id: str
    label: str
    kind: str
    state: KeyState
    hosted_router: bool
    configured: bool


@dataclass(frozen=True, slots=True)
class KeyTest:
    ok: bool
    message: str


class Core:
    """The one facade the GUI and the CLI call; it never exposes a key after it is saved."""

    def __init__(
        self,
        *,
        config: Config,
        config_path: Path,
        data_dir: Path,
        ctx: GatewayContext,
        server: GatewayServer,
        hub: EventHub,
        live: LiveView,
        stats: Stats,
        store: SqliteStore,
        keystore: KeyStore,
        token: str,
        keyring_error: str | None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.data_dir = data_dir
        self.hub = hub
        self.live = live
        self.demo = ctx.demo
        self.keyring_error = keyring_error
        self._ctx = ctx
        self._server = server
        self._stats = stats
        self._store = store
        self._keystore = keystore
        self._token = token
        self.restart_in_demo: Callable[[], object] | None = None
        """Set by the desktop app: restart the core with demo providers."""

    # -- gateway state ------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def paused(self) -> bool:
        return self._ctx.paused

    def token(self) -> str:
        return self._token

    async def pause(self) -> None:
        self._ctx.paused = True
        self._announce("paused")

    async def resume(self) -> None:
        self._ctx.paused = False
        self._announce("running")

    async def set_port(self, port: int) -> None:
        """Listen on `port` instead, without restarting the app; saved to the config."""
        await self._server.move_to(port)
        cfg = self.config.model_copy(deep=True)
        cfg.server.port = self._server.port
        await self.save_config(cfg)
        self._announce("paused" if self.paused else "running")

    def _announce(
        self, state: Literal["running", "paused", "stopped", "error"], detail: str | None = None
    ) -> None:
        self.hub.publish(GatewayStateChanged(time.monotonic_ns(), state, self.base_url, detail))

    def enable_demo(self) -> None:
        """Switch to demo providers (desktop app only; the CLI uses --demo)."""
        if self.restart_in_demo is not None and not self.demo:
            self.restart_in_demo()

    # -- config -------------------------------------------------------------

    async def save_config(self, cfg: Config) -> None:
        """Validate, write atomically (off the loop), and apply routing changes at once.

        The new catalog and router are built first: a config they reject (an
        unknown model in a router, a cycle) raises ConfigError and the file on
        disk is left as it was.
        """
        validated = Config.model_validate(cfg.model_dump())
        ctx = self._ctx
        if self.demo:  # demo providers stay; nothing is written
            self.config = validated
            return
        catalog, router = self._routing_for(validated)
        self._check_reference(validated, catalog)
        await asyncio.get_running_loop().run_in_executor(
            None, save_config, self.config_path, validated
        )
        self.config = ctx.config = validated
        ctx.catalog, ctx.router = catalog, router
        ctx.refresh_reach()

    def check_config(self, cfg: Config) -> Config:
        """What `save_config` would accept, validated; writes and applies nothing.

        Raises pydantic's ValidationError for a malformed config and ConfigError
        with the engine's message (an unknown model, a router cycle) for one
        the catalog or router rejects. Cheap when models and providers are
        unchanged (the running catalog is reused), so the GUI may call it per edit.
        """
        validated = Config.model_validate(cfg.model_dump())
        catalog, _ = self._routing_for(validated)
        self._check_reference(validated, catalog)
        return validated

    def reference_model_error(self, model_id: str, cfg: Config | None = None) -> str | None:
        """None when savings can be measured against `model_id`, else the reason.

        The reference is a plain catalog id (its price is what savings compare
        with); `provider/id` forms, fine in a router, are refused here.
        """
        cfg = cfg or self.config
        if self._catalog_for(cfg).lookup(model_id):
            return None
        problem = self._model_problem(model_id, cfg)
        if problem is not None:
            return problem
        plain = model_id.partition("/")[2]
        return f"the reference model is a plain model id: {plain!r}, not {model_id!r}"

    def _check_reference(self, cfg: Config, catalog: Catalog) -> None:
        """ConfigError for a reference model `catalog` (the one `cfg` builds) does not
        know, when it changed (a file that already names one still saves: a port
        change must not fail on it). Only a refusal builds its message."""
        ref = cfg.routing.reference_model
        if ref == self.config.routing.reference_model or catalog.lookup(ref):
            return
        raise ConfigError(f"[routing] reference_model: {self.reference_model_error(ref, cfg)}")

    def model_ids(self) -> list[str]:
        """Every model id the catalog of the current config knows, then each as `provider/id`."""
        catalog = self._catalog_for(self.config)
        pinned = {f"{info.provider}/{info.id}" for info in catalog.entries()}
        return sorted(catalog.ids(), key=str.lower) + sorted(pinned, key=str.lower)

    def model_id_error(self, model_id: str) -> str | None:
        """None when the engine accepts `model_id` in a router's models list, else its reason.

        The reason is the router's own ("unknown model 'x'; did you mean: …?").
        """
        return self._model_problem(model_id, self.config)

    def _model_problem(self, model_id: str, cfg: Config) -> str | None:
        probe = cfg.model_copy(
            update={"routers": {"_": RouterConfig(strategy="fallback", models=[model_id])}}
        )
        try:
            self._routing_for(probe)
        except ConfigError as exc:
            return str(exc).removeprefix("[routers._]: ")
        return None

    def _catalog_for(self, cfg: Config) -> Catalog:
        ctx = self._ctx
        if cfg.models == ctx.config.models and cfg.providers == ctx.config.providers:
            return ctx.catalog
        return Catalog.build(cfg, price_cache=self.data_dir / PRICE_CACHE_FILE)

    def _routing_for(self, cfg: Config) -> tuple[Catalog, Router]:
        """The catalog and router `cfg` gives; raises ConfigError when they reject it."""
        catalog = self._catalog_for(cfg)
        return catalog, Router(catalog, cfg, self._ctx.cooldowns, self._ctx.latency)

    # -- keys ---------------------------------------------------------------

    def provider_states(self) -> list[ProviderState]:
        out = []
        for spec in self._ctx.specs.values():
            if self.demo != (spec.kind == "demo"):
                continue
            if spec.keyless:
                state: KeyState = "local"
            else:
                state = self._keystore.source(spec.id)
            out.append(
                ProviderState(
                    spec.id, spec.label, spec.kind, state, spec.hosted_router, spec.configured
                )
            )
        return out

    async def save_key(self, provider: str, key: str) -> None:
        await run_off_loop(lambda: self._keystore.set(provider, key))
        self._ctx.refresh_reach()
        self.hub.publish(KeyStatusChanged(time.monotonic_ns(), provider, "saved"))

    async def delete_key(self, provider: str) -> bool:
        deleted = await run_off_loop(lambda: self._keystore.delete(provider))
        self._ctx.refresh_reach()
        self.hub.publish(KeyStatusChanged(time.monotonic_ns(), provider, "deleted"))
        return deleted

    async def test_key(self, provider: str) -> KeyTest:
        """Ask the provider's models endpoint with the stored key."""
        result = await test_provider_key(self._ctx, provider)
        status: Literal["ok", "rejected", "unreachable"] = (
            "ok" if result.ok else "rejected" if "rejected" in result.message else "unreachable"
        )
        self.hub.publish(KeyStatusChanged(time.monotonic_ns(), provider, status, result.message))
        return result

    # -- telemetry ----------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return self._stats.to_json(datetime.now(UTC))

    def series(self, resolution: Literal["minute", "hour"] = "minute", points: int = 60) -> Any:
        """Chart buckets of spend, savings and overhead (see `Stats.series`)."""
        return self._stats.series(resolution, now=datetime.now(UTC), points=points)

    @property
    def stats_model(self) -> Stats:
        return self._stats

    def recent(self, limit: int = 200) -> list[Any]:
        """Blocking read of recent records from the store (call in an executor)."""
        return self._store.recent(limit)


async def test_provider_key(ctx: GatewayContext, provider: str) -> KeyTest:
    spec = ctx.specs.get(provider)
    client = ctx.providers.get(provider)
    if spec is None or client is None:
        return KeyTest(False, f"unknown provider {provider!r}")
    key = ctx.keystore.get(provider)
    if key is None and not spec.keyless:
        return KeyTest(False, f"no key for {provider}: run `orca-desktop keys set {provider}`")
    status, message = await client.list_models(key)
    return KeyTest(status == 200, message)
