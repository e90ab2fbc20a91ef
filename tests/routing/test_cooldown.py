"""Cool-down timings and TTFT averages, driven by a manual clock."""

from __future__ import annotations

import pytest

from orca_desktop.routing import Cooldowns, LatencyTracker
from orca_desktop.routing.cooldown import MAX_BACKOFF_S
from tests.routing.factories import ManualClock


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(start=5.0)
    assert clock() == 5.0 and clock() == 5.0
    clock.advance(2.5)
    assert clock() == 7.5


def make() -> tuple[Cooldowns, ManualClock]:
    clock = ManualClock()
    return Cooldowns(clock), clock


def test_retry_after_is_honoured() -> None:
    cooldowns, clock = make()
    cooldowns.failed("openai", "gpt-4o", status=429, retry_after_s=12)
    assert cooldowns.cooling("openai", "gpt-4o") == 12
    clock.advance(11)
    assert cooldowns.cooling("openai", "gpt-4o") == 1
    clock.advance(1)
    assert cooldowns.cooling("openai", "gpt-4o") == 0.0
    assert cooldowns.cooling("openai", "other") == 0.0


def test_429_without_retry_after_cools_for_30_seconds() -> None:
    cooldowns, clock = make()
    cooldowns.failed("openai", "gpt-4o", status=429, retry_after_s=None)
    assert cooldowns.cooling("openai", "gpt-4o") == 30
    clock.advance(30)
    assert cooldowns.cooling("openai", "gpt-4o") == 0.0


@pytest.mark.parametrize("status", [500, 502, 503, 529, 0, 401, 408])
def test_server_errors_and_timeouts_back_off_exponentially_up_to_five_minutes(status: int) -> None:
    cooldowns, _ = make()
    seen = []
    for _ in range(10):
        cooldowns.failed("groq", "llama", status=status, retry_after_s=None)
        seen.append(cooldowns.cooling("groq", "llama"))
    assert seen == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_success_resets_the_backoff() -> None:
    cooldowns, _ = make()
    for _ in range(3):
        cooldowns.failed("groq", "llama", status=503, retry_after_s=None)
    assert cooldowns.cooling("groq", "llama") == 8
    cooldowns.succeeded("groq", "llama")
    assert cooldowns.cooling("groq", "llama") == 0.0
    cooldowns.failed("groq", "llama", status=503, retry_after_s=None)
    assert cooldowns.cooling("groq", "llama") == 2


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_request_errors_do_not_cool_the_provider(status: int) -> None:
    cooldowns, _ = make()
    cooldowns.failed("openai", "gpt-4o", status=status, retry_after_s=5)
    assert cooldowns.cooling("openai", "gpt-4o") == 0.0
    assert not cooldowns.any_active()


def test_pairs_are_independent_and_expire() -> None:
    cooldowns, clock = make()
    cooldowns.failed("openai", "a", status=500, retry_after_s=None)
    assert cooldowns.cooling("openai", "b") == 0.0 and cooldowns.cooling("azure", "a") == 0.0
    assert cooldowns.any_active()
    clock.advance(2)
    assert not cooldowns.any_active()


def test_a_short_retry_after_does_not_shorten_a_longer_cooldown() -> None:
    cooldowns, _ = make()
    cooldowns.failed("openai", "a", status=429, retry_after_s=60)
    cooldowns.failed("openai", "a", status=429, retry_after_s=1)
    assert cooldowns.cooling("openai", "a") == 60


def test_ttft_is_a_moving_average_with_a_default_before_data() -> None:
    latency = LatencyTracker(default_ms=800.0, alpha=0.5)
    assert latency.ttft_ms("openai", "gpt-4o") == 800.0
    latency.observe_ttft("openai", "gpt-4o", 100.0)
    assert latency.ttft_ms("openai", "gpt-4o") == 100.0
    latency.observe_ttft("openai", "gpt-4o", 300.0)
    assert latency.ttft_ms("openai", "gpt-4o") == 200.0
    assert latency.ttft_ms("openai", "other") == 800.0


def test_a_provider_failing_thousands_of_times_stays_at_the_cap() -> None:
    clock = [0.0]
    cooldowns = Cooldowns(lambda: clock[0])
    for _ in range(5000):
        cooldowns.failed("mock", "dead", status=503, retry_after_s=None)
    assert cooldowns.cooling("mock", "dead") == MAX_BACKOFF_S
