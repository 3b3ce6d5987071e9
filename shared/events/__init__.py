"""The event bus: one interface, chosen backends.

    bus.py          `EventBus` (the interface), `EventHandler`, `Subscription`, `DeadLetter`
    memory.py       `MemoryEventBus`: in-process asyncio, one queue per consumer
    eventbridge.py  `EventBridgeBus`: EventBridge PutEvents, one SQS queue per consumer
                    (import it from `shared.events.eventbridge`: it needs aioboto3, which
                    only the services that talk to AWS install)
    idempotency.py  `IdempotentConsumer`: drops redelivered events by id, bounded memory
    factory.py      `create_bus(backend)`: the backend named in settings

Delivery is at-least-once on every backend, so consumers must be idempotent by event id.
"""

from shared.events.bus import DeadLetter, EventBus, EventHandler, Subscription
from shared.events.factory import BusBackend, create_bus
from shared.events.idempotency import IdempotentConsumer
from shared.events.memory import MemoryEventBus

__all__ = [
    "BusBackend",
    "DeadLetter",
    "EventBus",
    "EventHandler",
    "IdempotentConsumer",
    "MemoryEventBus",
    "Subscription",
    "create_bus",
]
