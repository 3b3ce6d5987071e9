"""Token buckets: bursts up to capacity, refill over time, bounded table."""

from services.gateway.ratelimit import RateLimiter


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refused_with_wait_then_refilled() -> None:
    clock = _Clock()
    limiter = RateLimiter(capacity=3, refill_per_s=2, max_clients=10, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == 0.5
    assert limiter.acquire("b") == 0.0  # other clients are unaffected
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_table_is_bounded_and_forgets_least_recent() -> None:
    clock = _Clock()
    limiter = RateLimiter(capacity=1, refill_per_s=0.001, max_clients=3, clock=clock)
    for name in ("a", "b", "c"):
        limiter.acquire(name)
    limiter.acquire("a")  # refused, but "a" is now the most recent
    limiter.acquire("d")
    assert len(limiter) == 3
    assert limiter.acquire("a") > 0  # still remembered: still empty
    assert limiter.acquire("b") == 0.0  # forgotten: a fresh bucket


def test_zero_capacity_means_disabled() -> None:
    assert not RateLimiter(capacity=0, refill_per_s=1, max_clients=1).enabled
