"""Request time limits that share one loop timer instead of arming one each.

Every provider call has a first-byte limit, and a stream an idle limit renewed
per chunk. `asyncio.timeout` arms a timer handle per block: a heap push on
enter, a cancel on exit, and the loop's heap fills with cancelled handles that
it has to sweep (issue #5: several µs per request, on the hot path). Our
limits are long (seconds to minutes) and almost never reached, so a `Deadlines`
set per loop keeps the blocks in a dict and one timer armed for the earliest
due time it knows of. Entering and leaving a block is a dict insert and
delete; a stream's `touch()` is one clock read. When the timer fires it looks
at the blocks still open (a few dozen, ~once per limit period), expires those
that are due and re-arms for the next one.

Expiry cancels the block's task and turns that cancellation into TimeoutError
as `asyncio.Timeout` does (`Task.cancelling`/`uncancel`), so a block ends
exactly as under `asyncio.timeout`: TimeoutError for the limit, CancelledError
for a cancellation from outside, and other errors pass through.

Never blocks; a block is only usable inside a task (it cancels that task on
expiry).
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType


class Deadline:
    """`with timeout(s) as d:` … `d.reschedule(when)`; or, made by `idle_timeout`,
    … `d.touch()` on activity. Raises TimeoutError from the block when due.

    A plain (not async) context manager: entering and leaving await nothing, so
    they need no coroutine each; the task's cancellation is what ends the block.
    """

    __slots__ = ("_cancelling", "_due", "_expired", "_idle_s", "_last", "_loop", "_owner", "_task")

    def __init__(self, delay_s: float | None, idle_s: float | None) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._owner = _deadlines(loop)
        self._idle_s = idle_s
        self._due = math.inf if delay_s is None else loop.time() + delay_s
        self._last = 0.0
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._expired = False

    def due(self) -> float:
        """Loop time at which the block is ended if nothing changes."""
        if self._idle_s is not None:
            return self._last + self._idle_s
        return self._due

    def touch(self) -> None:
        """Something happened: an idle limit's period starts again."""
        self._last = self._loop.time()

    def reschedule(self, when: float) -> None:
        """Move a fixed limit to loop time `when` (like `asyncio.Timeout.reschedule`)."""
        self._due = when
        if self in self._owner.open:
            self._owner.arm(when)

    def __enter__(self) -> Deadline:
        task = asyncio.current_task(self._loop)
        if task is None:
            raise RuntimeError("a request time limit must be used inside a task")
        self._task, self._cancelling = task, task.cancelling()
        self._last = self._loop.time()
        self._owner.open[self] = None
        self._owner.arm(self.due())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner.open.pop(self, None)
        if self._expired:
            assert self._task is not None
            # our cancel, not (also) one from outside: then it is the limit that ended it
            if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc

    def expire(self) -> None:
        """End the block now (its owner calls this when it is due)."""
        if not self._expired and self._task is not None:
            self._expired = True
            self._task.cancel()


def timeout(delay_s: float) -> Deadline:
    """Like `asyncio.timeout(delay_s)`, on the shared timer."""
    return Deadline(delay_s, None)


def idle_timeout(idle_s: float) -> Deadline:
    """A limit of `idle_s` seconds without a `touch()` (counted from entering)."""
    return Deadline(None, idle_s)


class Deadlines:
    """The open blocks of one loop and the one timer that watches them."""

    __slots__ = ("_armed_at", "_handle", "_loop", "open")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.open: dict[Deadline, None] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def arm(self, when: float) -> None:
        """Make sure the timer fires no later than `when`."""
        if when >= self._armed_at:
            return  # the usual case: limits are equal, so later blocks are due later
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle, self._armed_at = None, math.inf
        now = self._loop.time()
        following = math.inf
        for deadline in list(self.open):
            due = deadline.due()
            if due <= now:
                del self.open[deadline]
                deadline.expire()
            elif due < following:
                following = due
        if following < math.inf:
            self.arm(following)


_owners: dict[asyncio.AbstractEventLoop, Deadlines] = {}


def _deadlines(loop: asyncio.AbstractEventLoop) -> Deadlines:
    owner = _owners.get(loop)
    if owner is None:
        for old in [known for known in _owners if known.is_closed()]:
            del _owners[old]  # a loop run and closed before (tests, `asyncio.run`)
        owner = _owners[loop] = Deadlines(loop)
    return owner
