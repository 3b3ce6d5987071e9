"""The `EventBus` interface every backend implements.

A consumer is a *named* subscription to some event types (on AWS: one SQS queue per
consumer, fed by an EventBridge rule on those types). Delivery is at-least-once: a
handler that raises is retried a bounded number of times, then the event goes to the
consumer's dead-letter store. Handlers therefore must be idempotent by `Event.id`
(see `shared.events.idempotency`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from shared.contracts.events import Event, EventType

__all__ = [
    "DeadLetter",
    "DeadLetterListener",
    "EventBus",
    "EventHandler",
    "Subscription",
    "tell_dead_letter",
]

EventHandler = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class DeadLetter:
    """An event a consumer gave up on, and why."""

    consumer: str
    event: Event
    error: str
    attempts: int
    failed_at: datetime


@runtime_checkable
class DeadLetterListener(Protocol):
    """A handler that wants to know when the bus gives up on one of its events (the
    metrics wrapper counts them)."""

    def dead_lettered(self, dead: DeadLetter) -> None:
        """`dead.event` will not be delivered to this handler again."""


def tell_dead_letter(handler: EventHandler, dead: DeadLetter) -> None:
    """Let `handler` know about `dead` when it listens for that; every backend calls this."""
    if isinstance(handler, DeadLetterListener):
        handler.dead_lettered(dead)


@runtime_checkable
class Subscription(Protocol):
    """A live subscription; `close()` stops delivery to it."""

    consumer: str

    async def close(self) -> None:
        """Stop delivering to this consumer (events already queued are dropped)."""


@runtime_checkable
class EventBus(Protocol):
    """Publish events and deliver them to named consumers."""

    async def start(self) -> None:
        """Begin delivering (idempotent)."""

    async def close(self) -> None:
        """Stop every consumer and release resources (idempotent)."""

    async def publish(self, event: Event) -> None:
        """Hand `event` to the bus; returns once the bus has accepted it."""

    async def subscribe(
        self,
        consumer: str,
        event_types: Iterable[EventType],
        handler: EventHandler,
        *,
        concurrency: int = 1,
    ) -> Subscription:
        """Deliver events of `event_types` to `handler` under the consumer name `consumer`,
        running up to `concurrency` handlers at once (several pollers of one SQS queue)."""

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Events consumers gave up on (for inspection; the AWS backend reads its DLQs)."""
