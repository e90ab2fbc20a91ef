"""An idle timeout for streams whose renewal per chunk is one clock read.

`asyncio.timeout` renewed with `reschedule` on every chunk cancels a timer
handle and pushes a new one onto the loop's heap each time; a 50-chunk stream
paid that 50 times (issue #5). `IdleTimeout` keeps one timer: a chunk only
records the time, and the timer, when it fires, either finds the stream idle
for the whole period (then the block ends with TimeoutError, exactly as
`asyncio.timeout` would) or re-arms itself for the rest of the period.

Never blocks; only usable inside a task (it cancels that task on expiry).
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class IdleTimeout:
    """`async with IdleTimeout(s) as idle:` … `idle.touch()` on activity.

    The block raises TimeoutError when `s` seconds pass without a `touch()`.
    """

    __slots__ = ("_handle", "_idle_s", "_last", "_loop", "_timeout")

    def __init__(self, idle_s: float) -> None:
        self._idle_s = idle_s
        self._loop = asyncio.get_running_loop()
        self._timeout = asyncio.timeout(None)
        self._handle: asyncio.TimerHandle | None = None
        self._last = 0.0

    def touch(self) -> None:
        """Something happened: the idle period starts again."""
        self._last = self._loop.time()

    async def __aenter__(self) -> IdleTimeout:
        await self._timeout.__aenter__()
        self._last = now = self._loop.time()
        self._handle = self._loop.call_at(now + self._idle_s, self._check)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        await self._timeout.__aexit__(exc_type, exc, tb)

    def _check(self) -> None:
        due = self._last + self._idle_s
        now = self._loop.time()
        if now < due:
            self._handle = self._loop.call_at(due, self._check)
            return
        self._handle = None
        self._timeout.reschedule(now)  # expires now: asyncio's own cancel-and-convert
