"""`ObservedConsumer`: what a bus consumer's metrics see of its events.

Wrapped around a consumer's handler (outside `IdempotentConsumer`), it records the
delivery lag (publication time to handler start), each handling's outcome, and, when
the bus gives up on an event (`dead_lettered`, called by both backends), a dead letter.
The bus may be shared by several services of one process; each consumer reports to the
`Metrics` of the service that subscribed it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.contracts.events import Event
from shared.events.bus import DeadLetter, EventHandler
from shared.metrics.catalog import BUS_DEAD_LETTERS, BUS_EVENTS, BUS_LAG
from shared.metrics.recorder import Metrics

__all__ = ["ObservedConsumer"]


class ObservedConsumer:
    """A handler wrapper recording lag, outcomes and dead letters of `consumer`."""

    def __init__(self, metrics: Metrics, consumer: str, handler: EventHandler) -> None:
        self.metrics = metrics
        self.consumer = consumer
        self._handler = handler

    async def __call__(self, event: Event) -> None:
        published = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
        lag = (datetime.now(UTC) - published).total_seconds()
        event_type = str(event.type.value)
        self.metrics.observe(
            BUS_LAG, {"consumer": self.consumer, "event_type": event_type}, max(0.0, lag)
        )
        outcome = "error"
        try:
            await self._handler(event)
            outcome = "ok"
        finally:
            self.metrics.count(
                BUS_EVENTS,
                {"consumer": self.consumer, "event_type": event_type, "outcome": outcome},
            )

    def dead_lettered(self, dead: DeadLetter) -> None:
        """The bus gave up on `dead.event` for this consumer."""
        self.metrics.count(
            BUS_DEAD_LETTERS,
            {"consumer": self.consumer, "event_type": str(dead.event.type.value)},
        )
