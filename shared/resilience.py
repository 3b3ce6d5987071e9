"""Small, reusable resilience tools for calls to a dependency.

- `RetryPolicy`: bounded attempts with exponential backoff and *full jitter*
  (sleep a random time in ``[0, min(cap, base * 2**attempt)]``), so that many clients
  retrying at once spread out instead of hammering a recovering dependency together.
- `CircuitBreaker`: closed -> open after `failure_threshold` consecutive failures;
  open refuses calls at once (`CircuitOpen`, with the seconds left) for `reset_timeout`;
  then half-open lets `half_open_max_calls` trial calls through: a success closes it,
  a failure opens it again.

Neither knows about HTTP or AWS: the caller decides which errors are retryable and
which count as a failure of the dependency.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

__all__ = ["BreakerState", "CircuitBreaker", "CircuitOpen", "RetryPolicy", "retry_call"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try, and how long to wait between tries."""

    max_attempts: int = 3
    base_delay: float = 0.05
    max_delay: float = 1.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter backoff before retry number `attempt` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)


async def retry_call(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    retryable: Callable[[BaseException], bool],
    *,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run `call`, retrying errors for which `retryable` is true, up to the policy's bound."""
    attempt = 1
    while True:
        try:
            return await call()
        except Exception as exc:
            if attempt >= policy.max_attempts or not retryable(exc):
                raise
            pause = policy.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, exc, pause)
            await asyncio.sleep(pause)
            attempt += 1


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """Raised instead of calling a dependency the breaker considers down."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit {name!r} is open; retry in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after


@dataclass
class CircuitBreaker:
    """A three-state circuit breaker; not thread-safe, meant for one event loop."""

    name: str
    failure_threshold: int = 5
    reset_timeout: float = 10.0
    half_open_max_calls: int = 1
    clock: Callable[[], float] = time.monotonic
    _state: BreakerState = field(default=BreakerState.CLOSED, init=False)
    _failures: int = field(default=0, init=False)
    _opened_at: float = field(default=0.0, init=False)
    _trials: int = field(default=0, init=False)

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose timeout elapsed reads as half-open)."""
        if self._state is BreakerState.OPEN and self._remaining() <= 0:
            self._state = BreakerState.HALF_OPEN
            self._trials = 0
        return self._state

    def _remaining(self) -> float:
        return self._opened_at + self.reset_timeout - self.clock()

    def before_call(self) -> None:
        """Raise `CircuitOpen` when the call must not go through; else reserve a slot."""
        state = self.state
        if state is BreakerState.OPEN:
            raise CircuitOpen(self.name, self._remaining())
        if state is BreakerState.HALF_OPEN:
            if self._trials >= self.half_open_max_calls:
                # A trial is already in flight; the others wait for its verdict.
                raise CircuitOpen(self.name, min(1.0, self.reset_timeout))
            self._trials += 1

    def record_success(self) -> None:
        """The dependency answered: close the circuit."""
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._trials = 0

    def record_failure(self) -> None:
        """The dependency failed: count it, and open the circuit at the threshold."""
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self.clock()
        self._trials = 0
        self._failures = 0

    async def call(
        self, call: Callable[[], Awaitable[T]], is_failure: Callable[[BaseException], bool]
    ) -> T:
        """Run `call` under the breaker; only errors `is_failure` accepts count against it,
        any other error means the dependency answered and counts as a success."""
        self.before_call()
        try:
            result = await call()
        except Exception as exc:
            if is_failure(exc):
                self.record_failure()
            else:
                # The dependency answered (e.g. "bad input"): it is up.
                self.record_success()
            raise
        except BaseException:
            if self._state is BreakerState.HALF_OPEN:
                # Cancelled: give the trial slot back undecided.
                self._trials = max(0, self._trials - 1)
            raise
        self.record_success()
        return result
