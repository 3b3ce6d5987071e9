"""Idempotent consumers: at-least-once delivery means a handler may see an event twice.

`IdempotentConsumer` wraps a handler and remembers the ids of events it has *finished*
(an event whose handler raised is not remembered, so the bus's retry still runs it).
Memory is bounded: the oldest ids are forgotten first, which is safe as long as
redeliveries arrive within the last `capacity` events — true of both backends.
"""

from __future__ import annotations

from collections import OrderedDict

import structlog

from shared.contracts.events import Event
from shared.events.bus import EventHandler

__all__ = ["IdempotentConsumer", "SeenIds"]

_log = structlog.get_logger("kkot.events")


class SeenIds:
    """A bounded set of ids, forgetting the least recently added first."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        """Remember `event_id`, forgetting the oldest id when full."""
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


class IdempotentConsumer:
    """A handler wrapper that runs each event id at most once (successfully)."""

    def __init__(self, handler: EventHandler, *, capacity: int = 10_000) -> None:
        self._handler = handler
        self.seen = SeenIds(capacity)
        self._in_flight: set[str] = set()
        self.duplicates = 0

    async def __call__(self, event: Event) -> None:
        # A copy arriving while the first is still being handled (concurrent workers) is
        # dropped too: if the first fails, the bus retries *it*.
        if event.id in self.seen or event.id in self._in_flight:
            self.duplicates += 1
            _log.info("event_duplicate_dropped", event_id=event.id, event_type=event.type)
            return
        self._in_flight.add(event.id)
        try:
            await self._handler(event)
        finally:
            self._in_flight.discard(event.id)
        self.seen.add(event.id)
