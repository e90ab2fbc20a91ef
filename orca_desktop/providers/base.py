"""What a provider is to the gateway: a resolved spec and the adapter protocol.

`resolve_providers` merges the built-in presets with `[providers.*]` from the
config. Adapters own one keep-alive connection pool each and never see the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from orca_desktop.config import Config
from orca_desktop.providers.presets import HOSTED_ROUTER_KINDS, KEYLESS_KINDS, PRESETS

if TYPE_CHECKING:
    from orca_desktop.keystore import Secret
    from orca_desktop.providers.http1 import Response


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """A provider as the gateway uses it; `configured` is True when the config names it."""

    id: str
    label: str
    kind: str
    base_url: str
    keyless: bool
    hosted_router: bool
    configured: bool
    models: tuple[str, ...] | None = None


class ProviderConfigError(ValueError):
    """A `[providers.X]` entry cannot be used (e.g. a custom provider without base_url)."""


def resolve_providers(config: Config) -> dict[str, ProviderSpec]:
    """Presets plus configured providers, configured fields winning."""
    specs: dict[str, ProviderSpec] = {}
    for pid, builtin in PRESETS.items():
        specs[pid] = ProviderSpec(
            id=pid,
            label=builtin.label,
            kind=builtin.kind,
            base_url=builtin.base_url,
            keyless=builtin.keyless,
            hosted_router=builtin.hosted_router,
            configured=False,
        )
    for pid, pc in config.providers.items():
        preset = PRESETS.get(pid)
        kind = pc.kind or (preset.kind if preset else "openai-compatible")
        base_url = pc.base_url or (preset.base_url if preset and preset.kind == kind else None)
        if base_url is None:
            kind_preset = next((p for p in PRESETS.values() if p.kind == kind), None)
            base_url = kind_preset.base_url if kind_preset else None
        if base_url is None:
            raise ProviderConfigError(
                f"[providers.{pid}] needs base_url (kind {kind!r} has no default address)"
            )
        specs[pid] = ProviderSpec(
            id=pid,
            label=preset.label if preset else pid,
            kind=kind,
            base_url=base_url.rstrip("/"),
            keyless=kind in KEYLESS_KINDS or kind == "demo",
            hosted_router=kind in HOSTED_ROUTER_KINDS,
            configured=True,
            models=tuple(pc.models) if pc.models is not None else None,
        )
    return specs


class Provider(Protocol):
    """An upstream the gateway can call. Implementations pool their connections."""

    spec: ProviderSpec
    api: str
    """The provider API `send` speaks: "chat" (OpenAI chat completions) or "messages"
    (Anthropic Messages). The gateway passes a request through when the client speaks
    it too, and translates it otherwise."""

    def send(
        self,
        payload: bytes,
        key: Secret | None,
        client_headers: Mapping[str, str] | None = None,
        betas: Sequence[str] = (),
    ) -> Awaitable[Response]:
        """POST a body in `api`'s form; awaiting it gives the response once its headers
        arrived. A plain method returning the awaitable: one coroutine less per request
        on the gateway's hot path. `client_headers` are the client's (an adapter reads
        only the ones its API defines, e.g. `anthropic-beta`); `betas` are API betas
        a translated body needs."""
        ...

    async def list_models(self, key: Secret | None) -> tuple[int, str]:
        """Ask the provider's models endpoint: (HTTP status, short human outcome)."""
        ...

    async def close(self) -> None: ...
