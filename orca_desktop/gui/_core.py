"""What the GUI needs from the core: the `Core` facade and the LiveView, as protocols.

The GUI never imports `app.py` (it is the composition root that imports us),
so the facade it calls is described here structurally. Never imports Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from orca_desktop.config import Config
from orca_desktop.events import Event, EventHub
from orca_desktop.telemetry.record import RequestRecord


class ProviderStateLike(Protocol):
    """One provider and where its key comes from: keyring | env | missing | local."""

    @property
    def id(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> str: ...


class KeyTestLike(Protocol):
    """The outcome of `Core.test_key`: never contains the key."""

    @property
    def ok(self) -> bool: ...
    @property
    def message(self) -> str: ...


class ChangeLike(Protocol):
    """What one `LiveView.apply` changed."""

    @property
    def new_ids(self) -> Sequence[str]: ...
    @property
    def changed_ids(self) -> Sequence[str]: ...
    @property
    def evicted(self) -> int: ...
    @property
    def reset(self) -> bool: ...


class LiveViewLike(Protocol):
    """`telemetry.live.LiveView`: a bounded, newest-first ring of request rows."""

    def apply(self, events: Sequence[Event]) -> ChangeLike: ...
    def rows(self) -> Sequence[RequestRecord]: ...


class CoreLike(Protocol):
    """The `Core` facade from `app.py` (docs/ARCHITECTURE.md). `enable_demo` is optional."""

    hub: EventHub
    config: Config
    demo: bool

    @property
    def live(self) -> LiveViewLike: ...
    @property
    def base_url(self) -> str: ...
    @property
    def paused(self) -> bool: ...

    def token(self) -> str: ...
    async def pause(self) -> None: ...
    async def resume(self) -> None: ...
    async def set_port(self, port: int) -> None: ...
    async def save_config(self, cfg: Config) -> None: ...
    def check_config(self, cfg: Config) -> Config: ...
    def model_ids(self) -> list[str]: ...
    def model_id_error(self, model_id: str) -> str | None: ...
    def reference_model_error(self, model_id: str) -> str | None: ...
    def provider_states(self) -> Sequence[ProviderStateLike]: ...
    async def save_key(self, provider: str, key: str) -> Any: ...
    async def delete_key(self, provider: str) -> Any: ...
    async def test_key(self, provider: str) -> KeyTestLike: ...
    def stats(self) -> dict[str, Any]: ...


KEYED_STATES = frozenset({"keyring", "env"})
"""Provider states in which a provider has a key."""


def has_usable_provider(core: CoreLike) -> bool:
    """True in demo mode, or when a provider has a key or is a configured keyless local one.

    Presets such as ollama are listed as "local" even when nobody configured
    them; only a local provider named in the config counts.
    """
    if core.demo:
        return True
    return any(
        p.state in KEYED_STATES or (p.state == "local" and p.id in core.config.providers)
        for p in core.provider_states()
    )


def root_url(base_url: str) -> str:
    """`http://127.0.0.1:8787` whether the core's base URL ends in `/v1` or not."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def openai_base_url(base_url: str) -> str:
    """The URL OpenAI-style clients want: the root plus `/v1`."""
    return root_url(base_url) + "/v1"
