"""IdleTimeout: an idle limit renewed by activity, ending the block like asyncio.timeout."""

from __future__ import annotations

import asyncio

import pytest

from orca_desktop.gateway._deadline import IdleTimeout

pytestmark = pytest.mark.asyncio


async def test_activity_keeps_the_block_alive_past_the_idle_period() -> None:
    ticks = 0
    async with IdleTimeout(0.5) as idle:
        for _ in range(60):  # ~1.2 s in all, never 0.5 s without a touch
            await asyncio.sleep(0.02)
            idle.touch()
            ticks += 1
    assert ticks == 60


async def test_no_activity_ends_the_block_with_timeout_error() -> None:
    reached_end = False
    with pytest.raises(TimeoutError):
        async with IdleTimeout(0.05) as idle:
            idle.touch()
            await asyncio.sleep(10)
            reached_end = True
    assert not reached_end


async def test_silence_after_activity_times_out() -> None:
    with pytest.raises(TimeoutError):
        async with IdleTimeout(0.1) as idle:
            for _ in range(5):
                await asyncio.sleep(0.01)
                idle.touch()
            await asyncio.sleep(10)


async def test_errors_inside_the_block_pass_through() -> None:
    with pytest.raises(ValueError, match="boom"):
        async with IdleTimeout(5):
            raise ValueError("boom")


async def test_cancelling_from_outside_is_a_cancellation_not_a_timeout() -> None:
    async def wait() -> None:
        async with IdleTimeout(5):
            await asyncio.sleep(10)

    task = asyncio.ensure_future(wait())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_block_that_ends_in_time_leaves_no_timer_behind() -> None:
    async with IdleTimeout(0.05):
        pass
    await asyncio.sleep(0.1)  # a stray timer would cancel this task now
