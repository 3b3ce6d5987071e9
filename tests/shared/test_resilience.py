"""Retry with full jitter and the three-state circuit breaker."""

from __future__ import annotations

import random

import pytest

from shared.resilience import BreakerState, CircuitBreaker, CircuitOpen, RetryPolicy, retry_call


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_full_jitter_delays_stay_under_the_exponential_ceiling() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=0.1, max_delay=0.5)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # really spread over the whole range


async def test_retry_call_retries_only_retryable_errors_and_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.001)
    calls = 0

    async def always_fails() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await retry_call(always_fails, policy, lambda e: isinstance(e, ConnectionError))
    assert calls == 3

    calls = 0
    with pytest.raises(ConnectionError):
        await retry_call(always_fails, policy, lambda _e: False)
    assert calls == 1


async def test_retry_call_returns_once_the_call_succeeds() -> None:
    outcomes = [ConnectionError("a"), ConnectionError("b"), "ok"]

    async def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = await retry_call(call, RetryPolicy(max_attempts=3, base_delay=0.001), lambda _e: True)
    assert result == "ok"


async def test_breaker_opens_fails_fast_half_opens_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("ep", failure_threshold=2, reset_timeout=5.0, clock=clock)
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    async def up() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    def failure(e: BaseException) -> bool:
        return isinstance(e, ConnectionError)

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await breaker.call(down, failure)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as info:
        await breaker.call(up, failure)
    assert calls == 2  # the open breaker never called through
    assert 0 < info.value.retry_after <= 5.0

    clock.now += 5.1
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(ConnectionError):
        await breaker.call(down, failure)  # the trial fails: open again
    assert breaker.state is BreakerState.OPEN

    clock.now += 5.1
    assert await breaker.call(up, failure) == "ok"
    assert breaker.state is BreakerState.CLOSED


async def test_errors_that_are_not_failures_keep_the_breaker_closed() -> None:
    breaker = CircuitBreaker("ep", failure_threshold=1, reset_timeout=5.0)

    async def bad_input() -> None:
        raise ValueError("the caller's fault")

    for _ in range(3):
        with pytest.raises(ValueError):
            await breaker.call(bad_input, lambda e: isinstance(e, ConnectionError))
    assert breaker.state is BreakerState.CLOSED
