"""The composition root: builds the core the same way for `serve` and the desktop app.

Start-up order, top to bottom: config → keystore (keys read once, off the loop)
→ demo upstream (demo mode only) → providers → catalog → router → telemetry
(SQLite writer thread, stats, hub subscribers) → gateway (app, gate, local API,
listener). The desktop app adds the window and the tray on top
(`run_desktop`); nothing else wires objects. Teardown is the reverse, through
one AsyncExitStack: listener, feeds, provider sessions, store flush, demo.

This is the only module besides `gui/` that may import Qt, and it does so only
inside `run_desktop`, so `orca-desktop serve` never loads PySide6.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orca_desktop.config import (
    Config,
    default_config_path,
    default_data_dir,
    load_config,
)
from orca_desktop.core import PRICE_CACHE_FILE, Core
from orca_desktop.events import (
    EventHub,
    RequestFinished,
)
from orca_desktop.gateway.auth import Gate, normal_origins
from orca_desktop.gateway.context import GatewayContext
from orca_desktop.gateway.local_api import LocalApiDeps
from orca_desktop.gateway.server import GatewayServer, build_app
from orca_desktop.keystore import KeyStore, NoSecureKeyring, run_off_loop
from orca_desktop.providers.anthropic import AnthropicProvider
from orca_desktop.providers.base import Provider, ProviderSpec, resolve_providers
from orca_desktop.providers.demo import DEMO_PROVIDERS, DemoUpstream, demo_config
from orca_desktop.providers.openai_compat import OpenAICompatProvider
from orca_desktop.routing import Catalog, Cooldowns, LatencyTracker, Router
from orca_desktop.telemetry.live import LiveView
from orca_desktop.telemetry.stats import Stats
from orca_desktop.telemetry.store import SqliteStore

log = logging.getLogger(__name__)

KEYRING_SERVICE_ENV = "ORCA_KEYRING_SERVICE"
"""Keyring service name override; tests use a throwaway one so they never touch real keys."""


def make_keystore(*, read_in_child: bool = False) -> KeyStore:
    """The keystore over the OS keyring (service overridable for tests and benchmarks).

    `read_in_child`: the start-up read happens in a short-lived child process, so the
    gateway never keeps a keyring backend resident (~8-11 MiB). Not in a frozen
    build, whose executable cannot run `python -m`.
    """
    import sys

    return KeyStore(
        service=os.environ.get(KEYRING_SERVICE_ENV) or "orca-desktop",
        read_in_child=read_in_child and not getattr(sys, "frozen", False),
    )


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line decided; None means "from the config"."""

    config_path: Path | None = None
    data_dir: Path | None = None
    host: str | None = None
    port: int | None = None
    demo: bool = False
    live_view: bool = False
    """Keep `Core.live` (recent rows, for a window's first snapshot) fed; the desktop app does."""


def make_provider(spec: ProviderSpec, cfg: Config) -> Provider:
    """The client for one provider: Anthropic's native adapter or the OpenAI-compatible one."""
    if spec.kind == "anthropic":
        return AnthropicProvider(spec, cfg.server)
    return OpenAICompatProvider(spec, cfg.server)


@contextlib.asynccontextmanager
async def open_core(opts: Options) -> AsyncIterator[Core]:
    """Build and start the core; tear it all down on exit (reverse order)."""
    config_path = opts.config_path or default_config_path()
    data_dir = opts.data_dir or default_data_dir()
    config = load_config(config_path)
    if opts.host is not None:
        config.server.host = opts.host
    if opts.port is not None:
        config.server.port = opts.port
    data_dir.mkdir(parents=True, exist_ok=True)

    async with contextlib.AsyncExitStack() as stack:
        keystore = make_keystore(read_in_child=True)
        routing_config = config
        if opts.demo:
            demo = DemoUpstream()
            routing_config = demo_config(config, await demo.start())
            stack.push_async_callback(demo.close)
        specs = resolve_providers(routing_config)
        if opts.demo:
            specs = {pid: s for pid, s in specs.items() if pid in DEMO_PROVIDERS}
        keyring_error: str | None = None
        try:
            await run_off_loop(
                lambda: keystore.load([s.id for s in specs.values() if not s.keyless])
            )
        except NoSecureKeyring as exc:
            keyring_error = str(exc)
            log.warning("%s", exc)
        token = await _local_token(keystore)

        providers: dict[str, Provider] = {pid: make_provider(s, config) for pid, s in specs.items()}
        for provider in providers.values():
            stack.push_async_callback(provider.close)
        catalog = Catalog.build(routing_config, price_cache=data_dir / PRICE_CACHE_FILE)
        cooldowns = Cooldowns(time.monotonic)
        latency = LatencyTracker()
        router = Router(catalog, routing_config, cooldowns, latency)

        hub = EventHub()
        store = SqliteStore(
            data_dir / "telemetry.sqlite3", retention_days=config.telemetry.retention_days
        )
        store.start()
        stack.callback(store.close)
        stats = await asyncio.get_running_loop().run_in_executor(None, Stats.from_store, store)
        live = LiveView()
        hub.subscribe(_telemetry_sink(store, stats))
        if opts.live_view:
            recent = await asyncio.get_running_loop().run_in_executor(None, store.recent, 500)
            live.load(recent)
            hub.subscribe(live.note)  # applied when the window reads it

        ctx = GatewayContext(
            config=routing_config,
            keystore=keystore,
            specs=specs,
            providers=providers,
            catalog=catalog,
            router=router,
            cooldowns=cooldowns,
            latency=latency,
            hub=hub,
            demo=opts.demo,
        )
        ctx.refresh_reach()
        token_bytes = token.encode()
        gate = Gate(
            token=lambda: token_bytes,
            allowed_origins=normal_origins(config.server.allowed_origins),
            bind_host=config.server.host,
            on_refused=stats.count_unauthenticated,
        )
        closing = asyncio.Event()
        app = build_app(ctx, gate, LocalApiDeps(store=store, stats=stats, hub=hub, closing=closing))
        server = GatewayServer(app, config.server.host, config.server.port)
        await server.start()
        stack.push_async_callback(server.stop)
        stack.callback(closing.set)

        core = Core(
            config=config,
            config_path=config_path,
            data_dir=data_dir,
            ctx=ctx,
            server=server,
            hub=hub,
            live=live,
            stats=stats,
            store=store,
            keystore=keystore,
            token=token,
            keyring_error=keyring_error,
        )
        core._announce("running")
        _freeze_startup_objects()
        yield core


def _freeze_startup_objects() -> None:
    """Move everything built at start-up out of the garbage collector's sight.

    The catalog, genai-prices' tables, pydantic schemas and Qt wrappers are
    ~90k long-lived objects; a full collection walks them all (~60 ms here),
    which would stall requests and the window at random. They live as long as
    the process, so the collector never needs to look at them again.
    """
    gc.collect()
    gc.freeze()
    _return_freed_heap()


def _return_freed_heap() -> None:
    """Give the heap start-up freed back to the OS (glibc keeps it otherwise).

    Counting a large telemetry store at start-up churns through a record's worth
    of objects per stored request: with 150k records, 3.5 MiB of idle RSS.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass


def _telemetry_sink(store: SqliteStore, stats: Stats) -> Any:
    def on_event(event: object) -> None:
        if isinstance(event, RequestFinished):
            store.add(event.record)
            stats.add(event.record)

    return on_event


async def _local_token(keystore: KeyStore) -> str:
    try:
        return (await run_off_loop(keystore.local_token)).reveal()
    except NoSecureKeyring as exc:
        raise NoSecureKeyring(
            "cannot keep the local access token without a keyring; set ORCA_DESKTOP_TOKEN "
            "for headless use"
        ) from exc


async def serve(opts: Options, *, ready: Any = None) -> int:
    """`orca-desktop serve`: the gateway alone until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with open_core(opts) as core:
        if ready is not None:
            ready(core)
        await stop.wait()
    return 0


def run_desktop(opts: Options, *, show_window: bool = False) -> int:
    """`orca-desktop`: the tray app and window, with the gateway on the same qasync loop."""
    import sys
    from dataclasses import replace

    if not _display_available():
        print(
            "orca-desktop: no graphical display found (DISPLAY and WAYLAND_DISPLAY are unset).\n"
            "Run `orca-desktop serve` for the gateway alone, or set QT_QPA_PLATFORM=offscreen.",
            file=sys.stderr,
        )
        return 1

    from PySide6.QtWidgets import QApplication

    from orca_desktop.gui.qt_loop import new_event_loop

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("Orca Desktop")
    qapp.setQuitOnLastWindowClosed(False)  # we live in the tray
    opts = replace(opts, live_view=True)
    try:
        with asyncio.Runner(loop_factory=lambda: new_event_loop(qapp)) as runner:
            return runner.run(desktop_main(opts, show_window=show_window))
    except CouldNotStart as exc:
        # Shown once the loop is gone: the modal box holds nothing up, and with the
        # loop's signal handlers removed SIGTERM still ends the app.
        _show_fatal(str(exc))
        return 1


class CouldNotStart(Exception):
    """The core could not start (port taken, no keyring); the message says why."""


def _display_available() -> bool:
    """False on a Linux box with no display, where Qt would abort with a cryptic fatal error."""
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def desktop_main(opts: Options, *, show_window: bool = False) -> int:
    """Run core + GUI until Quit; 'Try demo mode' restarts the core in demo mode."""

    from dataclasses import replace

    from orca_desktop.gui import run_gui
    from orca_desktop.tasks import handle_loop_exception

    loop = asyncio.get_running_loop()
    loop.set_exception_handler(handle_loop_exception)
    quit_event = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, quit_event.set)
    while True:
        restart: list[Options] = []
        try:
            async with open_core(opts) as core:
                core.restart_in_demo = _restarter(restart, replace(opts, demo=True), quit_event)
                gui = run_gui(core, quit_event, show_window=show_window)
                _freeze_startup_objects()  # the window's widgets live as long as the core
                try:
                    await quit_event.wait()
                finally:
                    gui.close()
                    # widgets sit in reference cycles; collect them here, on the GUI
                    # thread, never from whichever thread the collector runs in next
                    gc.collect()
        except (OSError, NoSecureKeyring) as exc:
            raise CouldNotStart(f"Orca Desktop could not start: {exc}") from exc
        if not restart:
            return 0
        opts = restart[0]
        show_window = True  # the user asked from the window; keep it in front
        quit_event.clear()


def _restarter(
    restart: list[Options], demo_opts: Options, quit_event: asyncio.Event
) -> Callable[[], None]:
    def restart_in_demo() -> None:
        restart.append(demo_opts)
        quit_event.set()

    return restart_in_demo


def _show_fatal(message: str) -> None:
    from PySide6.QtWidgets import QMessageBox

    log.error("%s", message)
    QMessageBox.critical(None, "Orca Desktop", message)
