"""Background tasks that are kept alive until they end, and whose failures are logged.

The event loop holds tasks only weakly; a task nobody references can vanish
mid-flight. Every background coroutine in Orca starts through `spawn`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_alive: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Start `coro` as a named task, keep a reference until it ends, log it if it fails."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _alive.add(task)
    task.add_done_callback(_forget)
    return task


def _forget(task: asyncio.Task[Any]) -> None:
    _alive.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task %s failed", task.get_name(), exc_info=exc)


def handle_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The one loop exception handler: log with context instead of printing to stderr."""
    exc = context.get("exception")
    log.error("event loop error: %s", context.get("message", "unknown"), exc_info=exc)
