"""The in-process event bus: fan-out, isolation of slow consumers, retries, dead letters,
and idempotent consumers."""

from __future__ import annotations

import asyncio

import pytest

from shared.contracts.events import Event, EventType, ModelDeployed
from shared.events import IdempotentConsumer, MemoryEventBus, create_bus
from shared.events.idempotency import SeenIds
from shared.resilience import RetryPolicy


def _deployed(version: str = "v1") -> Event:
    return Event(
        type=EventType.MODEL_DEPLOYED,
        source="tests",
        data=ModelDeployed(model_name="m", model_version=version),
    )


@pytest.fixture
async def bus() -> MemoryEventBus:
    bus = MemoryEventBus(retry_policy=RetryPolicy(max_attempts=3, base_delay=0.01))
    await bus.start()
    yield bus  # type: ignore[misc]
    await bus.close()


async def test_every_consumer_of_a_type_gets_each_event(bus: MemoryEventBus) -> None:
    got: dict[str, list[str]] = {"a": [], "b": [], "other": []}

    def collector(name: str):  # type: ignore[no-untyped-def]
        async def handle(event: Event) -> None:
            got[name].append(event.id)

        return handle

    await bus.subscribe("a", [EventType.MODEL_DEPLOYED], collector("a"))
    await bus.subscribe("b", [EventType.MODEL_DEPLOYED], collector("b"))
    await bus.subscribe("other", [EventType.CLASSIFICATION_FAILED], collector("other"))
    events = [_deployed(f"v{i}") for i in range(5)]
    for event in events:
        await bus.publish(event)
    await bus.drain()
    assert got["a"] == [e.id for e in events]
    assert got["b"] == [e.id for e in events]
    assert got["other"] == []


async def test_a_slow_consumer_does_not_hold_up_a_fast_one(bus: MemoryEventBus) -> None:
    release = asyncio.Event()
    fast_done = asyncio.Event()

    async def slow(event: Event) -> None:
        await release.wait()

    async def fast(event: Event) -> None:
        fast_done.set()

    await bus.subscribe("slow", [EventType.MODEL_DEPLOYED], slow)
    await bus.subscribe("fast", [EventType.MODEL_DEPLOYED], fast)
    await bus.publish(_deployed())
    # The fast consumer finishes while the slow one is still blocked.
    await asyncio.wait_for(fast_done.wait(), timeout=2)
    release.set()
    await bus.drain()


async def test_a_failing_handler_is_retried_then_dead_lettered(bus: MemoryEventBus) -> None:
    attempts: list[str] = []

    async def broken(event: Event) -> None:
        attempts.append(event.id)
        raise RuntimeError("boom")

    await bus.subscribe("broken", [EventType.MODEL_DEPLOYED], broken)
    event = _deployed()
    await bus.publish(event)
    await bus.drain()
    assert attempts == [event.id] * 3
    [dead] = bus.dead_letters
    assert dead.consumer == "broken"
    assert dead.event.id == event.id
    assert dead.attempts == 3
    assert "boom" in dead.error


async def test_a_handler_that_recovers_is_not_dead_lettered(bus: MemoryEventBus) -> None:
    calls = 0

    async def flaky(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("transient")

    await bus.subscribe("flaky", [EventType.MODEL_DEPLOYED], flaky)
    await bus.publish(_deployed())
    await bus.drain()
    assert calls == 2
    assert bus.dead_letters == []


async def test_idempotent_consumer_drops_redelivered_events(bus: MemoryEventBus) -> None:
    handled: list[str] = []

    async def handle(event: Event) -> None:
        handled.append(event.id)

    consumer = IdempotentConsumer(handle)
    await bus.subscribe("once", [EventType.MODEL_DEPLOYED], consumer)
    first, second = _deployed("v1"), _deployed("v2")
    for event in (first, first, second, first):
        await bus.publish(event)
    await bus.drain()
    assert handled == [first.id, second.id]
    assert consumer.duplicates == 2


async def test_idempotent_consumer_retries_an_event_whose_handler_failed() -> None:
    calls = 0

    async def flaky(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("transient")

    consumer = IdempotentConsumer(flaky)
    event = _deployed()
    with pytest.raises(RuntimeError):
        await consumer(event)
    await consumer(event)
    await consumer(event)
    assert calls == 2


def test_seen_ids_memory_is_bounded() -> None:
    seen = SeenIds(capacity=3)
    for i in range(10):
        seen.add(str(i))
    assert len(seen) == 3
    assert "9" in seen and "7" in seen
    assert "0" not in seen


async def test_consumer_names_are_unique_and_closing_stops_delivery(bus: MemoryEventBus) -> None:
    handled: list[str] = []

    async def handle(event: Event) -> None:
        handled.append(event.id)

    sub = await bus.subscribe("c", [EventType.MODEL_DEPLOYED], handle)
    with pytest.raises(ValueError, match="already subscribed"):
        await bus.subscribe("c", [EventType.MODEL_DEPLOYED], handle)
    await sub.close()
    await bus.publish(_deployed())
    await bus.drain()
    assert handled == []
    # The name is free again once closed.
    await bus.subscribe("c", [EventType.MODEL_DEPLOYED], handle)


async def test_a_full_consumer_queue_dead_letters_instead_of_blocking_the_publisher() -> None:
    bus = MemoryEventBus(queue_size=2)  # never started: nothing drains the queue

    async def handle(event: Event) -> None:
        return None

    await bus.subscribe("stuck", [EventType.MODEL_DEPLOYED], handle)
    for i in range(4):
        await asyncio.wait_for(bus.publish(_deployed(f"v{i}")), timeout=1)
    assert [d.error for d in bus.dead_letters] == ["consumer queue full"] * 2
    await bus.close()


def test_create_bus_builds_the_memory_backend() -> None:
    assert isinstance(create_bus("memory"), MemoryEventBus)
    with pytest.raises(ValueError):
        create_bus("kafka")  # type: ignore[arg-type]


async def test_concurrent_workers_share_a_queue_and_drop_in_flight_duplicates(
    bus: MemoryEventBus,
) -> None:
    running = 0
    peak = 0
    handled: list[str] = []

    async def slow(event: Event) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        handled.append(event.id)
        running -= 1

    consumer = IdempotentConsumer(slow)
    await bus.subscribe("pool", [EventType.MODEL_DEPLOYED], consumer, concurrency=4)
    events = [_deployed(f"v{i}") for i in range(8)]
    for event in events:
        await bus.publish(event)
    await bus.publish(events[0])  # a duplicate while the original is in flight
    async with asyncio.timeout(5):
        await bus.drain()
    assert sorted(handled) == sorted(e.id for e in events)
    assert peak == 4
    assert consumer.duplicates == 1
