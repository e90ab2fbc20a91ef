"""Request limits on one shared timer: they end a block exactly as asyncio.timeout does.

`idle_timeout` is renewed by activity; `timeout` is fixed and can be moved.
"""

from __future__ import annotations

import asyncio

import pytest

from orca_desktop.gateway import _deadline
from orca_desktop.gateway._deadline import idle_timeout, timeout

pytestmark = pytest.mark.asyncio


async def test_activity_keeps_the_block_alive_past_the_idle_period() -> None:
    ticks = 0
    with idle_timeout(0.5) as idle:
        for _ in range(60):  # ~1.2 s in all, never 0.5 s without a touch
            await asyncio.sleep(0.02)
            idle.touch()
            ticks += 1
    assert ticks == 60


async def test_no_activity_ends_the_block_with_timeout_error() -> None:
    reached_end = False
    with pytest.raises(TimeoutError):
        with idle_timeout(0.05) as idle:
            idle.touch()
            await asyncio.sleep(10)
            reached_end = True
    assert not reached_end


async def test_silence_after_activity_times_out() -> None:
    with pytest.raises(TimeoutError):
        with idle_timeout(0.1) as idle:
            for _ in range(5):
                await asyncio.sleep(0.01)
                idle.touch()
            await asyncio.sleep(10)


async def test_errors_inside_the_block_pass_through() -> None:
    with pytest.raises(ValueError, match="boom"):
        with idle_timeout(5):
            raise ValueError("boom")


async def test_cancelling_from_outside_is_a_cancellation_not_a_timeout() -> None:
    async def wait() -> None:
        with idle_timeout(5):
            await asyncio.sleep(10)

    task = asyncio.ensure_future(wait())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_block_that_ends_in_time_leaves_no_timer_behind() -> None:
    with idle_timeout(0.05):
        pass
    await asyncio.sleep(0.1)  # a stray timer would cancel this task now


async def test_a_fixed_limit_ends_the_block_with_timeout_error() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        with timeout(0.05):
            await asyncio.sleep(10)
    assert 0.05 <= loop.time() - started < 5


async def test_moving_a_fixed_limit_earlier_or_later_is_honoured() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        with timeout(60) as limit:
            limit.reschedule(loop.time() + 0.05)  # earlier than anything armed
            await asyncio.sleep(10)
    with timeout(0.05) as limit:
        limit.reschedule(loop.time() + 60)  # later: the armed timer finds it not due
        await asyncio.sleep(0.15)


async def test_many_blocks_share_one_timer_and_each_ends_on_its_own_limit() -> None:
    """Short-lived blocks (requests) come and go; only the one left open expires, and
    the loop holds one timer for all of them, not one per block."""
    loop = asyncio.get_running_loop()
    scheduled = getattr(loop, "_scheduled", None)
    before = len(scheduled) if scheduled is not None else 0
    for _ in range(200):
        with timeout(30):
            await asyncio.sleep(0)
    if scheduled is not None:  # asyncio's own loop: its heap of timer handles
        assert len(scheduled) <= before + 1

    async def hang(limit: float) -> str:
        try:
            with timeout(limit):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "finished"

    async def quick() -> str:
        with timeout(0.05):
            await asyncio.sleep(0.01)
        return "finished"

    results = await asyncio.gather(hang(0.1), quick(), hang(0.2))
    assert results == ["timed out", "finished", "timed out"]
    assert not _deadline._deadlines(loop).open  # every block left the set


async def test_a_stream_touched_in_time_outlives_a_sibling_that_went_silent() -> None:
    async def stream(silent_after: int) -> str:
        try:
            with idle_timeout(0.1) as idle:
                for i in range(30):  # ~0.6 s in all
                    await asyncio.sleep(0.02 if i < silent_after else 10)
                    idle.touch()
        except TimeoutError:
            return f"stalled at {i}"
        return "complete"

    assert await asyncio.gather(stream(30), stream(5)) == ["complete", "stalled at 5"]
