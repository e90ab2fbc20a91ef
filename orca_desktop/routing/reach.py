"""Which providers this request can reach, and how a model is reached.

Owns `Reach` (built by the gateway from the key store and the providers'
config for each request, or cached until keys change) and the small rules
that turn it into a route for one catalog entry. It never looks at keys or
the keyring itself: it only gets provider ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from orca_desktop.routing.catalog import ModelInfo


@dataclass(frozen=True, slots=True)
class Reach:
    """Providers usable directly, and the hosted router to use for the others.

    `direct`: provider ids with a key present, or keyless local providers
    that are configured. `keyless`: those of `direct` reached without a key
    of the user's (nothing stored or in the environment), so an answer from
    them is not BYOK. `hosted_router`: the provider id of a hosted router
    (orcarouter, orbitrage) that has a key, or None.
    """

    direct: frozenset[str]
    hosted_router: str | None = None
    keyless: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Route:
    """How one catalog entry would be called: through whom, under which name."""

    via: str
    upstream_model: str
    byok: bool


def route_for(model: ModelInfo, reach: Reach, snapshot: str | None = None) -> Route | None:
    """Direct when the provider is reachable, else through the hosted router, else None.

    `snapshot` is a dated id the client named for this entry (`gpt-4o-2024-08-06`):
    the entry's own provider is asked for exactly that. A hosted router is
    addressed by catalog ids (never by a provider's `upstream_id`), so it gets
    the entry's id, as for an undated request.
    """
    provider = model.provider
    if provider in reach.direct:
        return Route(provider, snapshot or model.upstream_id, provider not in reach.keyless)
    if reach.hosted_router is not None:
        return Route(reach.hosted_router, model.id, False)
    return None


def no_key_reason(provider: str) -> str:
    return f"no key for {provider}"


def no_key_message(provider: str) -> str:
    """The 424 message: what is missing and the two ways to fix it."""
    return (
        f"no key for {provider}: run `orca-desktop keys set {provider}` or add it in the Keys tab"
    )
