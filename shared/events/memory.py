"""The in-process event bus: the embedded default when every service runs in one process.

Each consumer gets its own bounded `asyncio.Queue` and its own worker task(s), so a
slow consumer delays only itself. A handler that raises is retried up to `max_attempts`
times with full-jitter backoff; then the event lands in `dead_letters` (a bounded,
logged list) — the same at-least-once contract as the SQS backend, where the queue's
redrive policy moves it to a dead-letter queue. A full queue dead-letters the new event
instead of blocking the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

import structlog

from shared.contracts.events import Event, EventType
from shared.events.bus import DeadLetter, EventHandler, tell_dead_letter
from shared.resilience import RetryPolicy

__all__ = ["MemoryEventBus", "MemorySubscription"]

_log = structlog.get_logger("kkot.events")


class MemorySubscription:
    """One consumer: its queue, its worker and its handler."""

    def __init__(
        self,
        bus: MemoryEventBus,
        consumer: str,
        event_types: frozenset[EventType],
        handler: EventHandler,
        queue_size: int,
        concurrency: int = 1,
    ) -> None:
        self.consumer = consumer
        self.event_types = event_types
        self.concurrency = concurrency
        self._bus = bus
        self.handler = handler
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=queue_size)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"bus-consumer-{self.consumer}-{n}")
                for n in range(self.concurrency)
            ]

    async def close(self) -> None:
        """Stop the workers and forget the subscription."""
        self._bus._forget(self)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self._deliver(event)
            finally:
                self.queue.task_done()

    async def _deliver(self, event: Event) -> None:
        policy = self._bus.retry_policy
        for attempt in range(1, policy.max_attempts + 1):
            try:
                await self.handler(event)
                return
            except Exception as exc:
                if attempt >= policy.max_attempts:
                    self._bus._dead_letter(self, event, repr(exc), attempt)
                    return
                pause = policy.delay(attempt)
                _log.warning(
                    "event_handler_retry",
                    consumer=self.consumer,
                    event_id=event.id,
                    event_type=event.type,
                    attempt=attempt,
                    error=repr(exc),
                    pause_s=round(pause, 3),
                )
                await asyncio.sleep(pause)


class MemoryEventBus:
    """An asyncio fan-out bus with per-consumer queues, retries and a dead-letter list."""

    def __init__(
        self,
        *,
        retry_policy: RetryPolicy | None = None,
        queue_size: int = 1000,
        dead_letter_capacity: int = 1000,
    ) -> None:
        self.retry_policy = retry_policy or RetryPolicy(max_attempts=3, base_delay=0.05)
        self.queue_size = queue_size
        self._subscriptions: dict[str, MemorySubscription] = {}
        self._dead: deque[DeadLetter] = deque(maxlen=dead_letter_capacity)
        self._started = False

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Events consumers gave up on, oldest first."""
        return list(self._dead)

    async def start(self) -> None:
        """Start every consumer's worker (and those subscribed later, at once)."""
        self._started = True
        for subscription in self._subscriptions.values():
            subscription.start()

    async def close(self) -> None:
        """Stop every consumer; events still queued are dropped, as on process exit."""
        self._started = False
        for subscription in list(self._subscriptions.values()):
            await subscription.close()

    async def subscribe(
        self,
        consumer: str,
        event_types: Iterable[EventType],
        handler: EventHandler,
        *,
        concurrency: int = 1,
    ) -> MemorySubscription:
        """Add the consumer `consumer`; names are unique, as SQS queue names are.
        `concurrency` workers share its queue (order is kept only with one)."""
        if consumer in self._subscriptions:
            raise ValueError(f"consumer {consumer!r} is already subscribed")
        types = frozenset(event_types)
        if not types:
            raise ValueError("subscribe to at least one event type")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        subscription = MemorySubscription(
            self, consumer, types, handler, self.queue_size, concurrency
        )
        self._subscriptions[consumer] = subscription
        if self._started:
            subscription.start()
        return subscription

    async def publish(self, event: Event) -> None:
        """Queue `event` for every consumer of its type; never waits on a consumer."""
        for subscription in list(self._subscriptions.values()):
            if event.type not in subscription.event_types:
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._dead_letter(subscription, event, "consumer queue full", 0)

    async def drain(self) -> None:
        """Wait until every queued event has been handled (or dead-lettered); callers
        bound the wait with `asyncio.timeout`."""
        for subscription in list(self._subscriptions.values()):
            await subscription.queue.join()

    def _forget(self, subscription: MemorySubscription) -> None:
        if self._subscriptions.get(subscription.consumer) is subscription:
            del self._subscriptions[subscription.consumer]

    def _dead_letter(
        self, subscription: MemorySubscription, event: Event, error: str, attempts: int
    ) -> None:
        consumer = subscription.consumer
        _log.error(
            "event_dead_lettered",
            consumer=consumer,
            event_id=event.id,
            event_type=event.type,
            attempts=attempts,
            error=error,
        )
        dead = DeadLetter(
            consumer=consumer,
            event=event,
            error=error,
            attempts=attempts,
            failed_at=datetime.now(UTC),
        )
        self._dead.append(dead)
        tell_dead_letter(subscription.handler, dead)
