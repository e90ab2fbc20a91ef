"""Cool-downs for failing provider/model pairs, and time-to-first-token averages.

Owns `Cooldowns` and `LatencyTracker`: small in-memory tables fed by the
gateway after each upstream attempt and read by the router. The clock is
injected (monotonic seconds), so tests drive time by hand. Never sleeps,
never does I/O.

Keys are the pair actually called: `(candidate.via, candidate.upstream_model)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]

RATE_LIMIT_COOLDOWN_S = 30.0  # a 429 without Retry-After
FIRST_BACKOFF_S = 2.0  # 5xx, timeouts, connection errors: doubles per failure
MAX_BACKOFF_S = 300.0
DEFAULT_TTFT_MS = 800.0  # before any measurement
TTFT_SMOOTHING = 0.3  # weight of the newest observation


def backoff_status(status: int) -> bool:
    """Statuses that mean "this provider is unwell", not "this request is wrong".

    0 stands for no HTTP status at all (timeout, connection error); 401/403
    are a rejected key, which will not fix itself within seconds either.
    """
    return status == 0 or status >= 500 or status in (401, 403, 408)


_MAX_STREAK = 32


class Cooldowns:
    """When each failing pair may be tried again.

    A 429 cools for Retry-After seconds (30 s without one); 5xx, 401/403,
    timeouts and connection errors cool exponentially from 2 s, doubling per
    consecutive failure up to 5 min; any other status changes nothing. A
    success forgets the pair.
    """

    __slots__ = ("_clock", "_until", "_streak")

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[tuple[str, str], float] = {}
        self._streak: dict[tuple[str, str], int] = {}

    def failed(
        self, provider: str, model: str, *, status: int, retry_after_s: float | None
    ) -> None:
        key = (provider, model)
        if status == 429:
            wait = retry_after_s if retry_after_s is not None and retry_after_s >= 0 else None
            seconds = min(wait, MAX_BACKOFF_S) if wait is not None else RATE_LIMIT_COOLDOWN_S
        elif backoff_status(status):
            # the streak stops growing once the back-off is at its cap (2**n would
            # otherwise overflow a float after ~1000 failures of a dead provider)
            streak = min(self._streak.get(key, 0) + 1, _MAX_STREAK)
            self._streak[key] = streak
            seconds = min(FIRST_BACKOFF_S * 2 ** (streak - 1), MAX_BACKOFF_S)
        else:
            return
        until = self._clock() + seconds
        self._until[key] = max(until, self._until.get(key, until))

    def succeeded(self, provider: str, model: str) -> None:
        key = (provider, model)
        self._until.pop(key, None)
        self._streak.pop(key, None)

    def cooling(self, provider: str, model: str) -> float:
        """Seconds left before the pair is usable again; 0.0 when it is."""
        until = self._until.get((provider, model))
        if until is None:
            return 0.0
        left = until - self._clock()
        return left if left > 0 else 0.0

    def any_active(self) -> bool:
        """Whether any pair might still be cooling (cheap pre-check for the router)."""
        if not self._until:
            return False
        now = self._clock()
        expired = [key for key, until in self._until.items() if until <= now]
        for key in expired:
            del self._until[key]
        return bool(self._until)


class LatencyTracker:
    """Exponential moving average of time to first token per pair."""

    __slots__ = ("_ttft", "_default_ms", "_alpha")

    def __init__(
        self, *, default_ms: float = DEFAULT_TTFT_MS, alpha: float = TTFT_SMOOTHING
    ) -> None:
        self._ttft: dict[tuple[str, str], float] = {}
        self._default_ms = default_ms
        self._alpha = alpha

    def observe_ttft(self, provider: str, model: str, ms: float) -> None:
        key = (provider, model)
        previous = self._ttft.get(key)
        self._ttft[key] = ms if previous is None else previous + self._alpha * (ms - previous)

    def ttft_ms(self, provider: str, model: str) -> float:
        return self._ttft.get((provider, model), self._default_ms)
