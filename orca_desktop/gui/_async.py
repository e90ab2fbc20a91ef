"""Run a core coroutine from a Qt slot without blocking, and report its outcome to a widget.

Slots must return at once (the gateway shares this thread), so every Core call
that may wait — keyring, config file, listener restart — is started here as a
kept-alive task via `tasks.spawn`. Callbacks are skipped when their widget has
already been deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject

from orca_desktop.tasks import spawn

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_task(
    owner: QObject,
    work: Awaitable[T],
    *,
    name: str,
    on_done: Callable[[T], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> asyncio.Task[None]:
    """Start `work` on the running loop, then call `on_done(result)` or `on_error(exc)`.

    The callbacks are skipped when `owner` (the widget that asked) is gone.
    """

    async def wrapped() -> None:
        try:
            result = await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed: %s", name, type(exc).__name__)
            if on_error is not None and shiboken6.isValid(owner):
                on_error(exc)
            return
        if on_done is not None and shiboken6.isValid(owner):
            on_done(result)

    coro = wrapped()
    try:
        return spawn(coro, name=name)
    except RuntimeError:
        coro.close()
        if asyncio.iscoroutine(work):
            work.close()
        raise


def maybe_await(value: Any) -> Awaitable[Any]:
    """Wrap a plain value so optional Core methods may be sync or async."""
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return value

    async def done() -> Any:
        return value

    return done()
