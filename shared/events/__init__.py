"""The event bus: one interface, chosen backends.

    bus.py          `EventBus` (the interface), `EventHandler`, `Subscription`, `DeadLetter`
    memory.py       `MemoryEventBus`: in-process asyncio, one queue per consumer
    eventbridge.py  `EventBridgeBus`: EventBridge PutEvents, one SQS queue per consumer
    idempotency.py  `IdempotentConsumer`: drops redelivered events by id, bounded memory
    factory.py      `create_bus(backend)`: the backend named in settings
    fanout.py       `task_queue(...)`: a queue + rule of this task's own, so that every
                    task of a service hears an event (deploys, live history)

Delivery is at-least-once on every backend, so consumers must be idempotent by event id.
"""

from shared.events.bus import DeadLetter, EventBus, EventHandler, Subscription
from shared.events.eventbridge import AwsBusConfig, EventBridgeBus
from shared.events.factory import BusBackend, create_bus
from shared.events.fanout import FanoutConfig, fanout_prefix, task_queue
from shared.events.idempotency import IdempotentConsumer
from shared.events.memory import MemoryEventBus

__all__ = [
    "AwsBusConfig",
    "BusBackend",
    "DeadLetter",
    "EventBridgeBus",
    "EventBus",
    "EventHandler",
    "FanoutConfig",
    "IdempotentConsumer",
    "MemoryEventBus",
    "Subscription",
    "create_bus",
    "fanout_prefix",
    "task_queue",
]
