"""The event bus: one interface, chosen backends.

    bus.py          `EventBus` (the interface), `EventHandler`, `Subscription`, `DeadLetter`
    memory.py       `MemoryEventBus`: in-process asyncio, one queue per consumer
    eventbridge.py  `EventBridgeBus`: EventBridge PutEvents, one SQS queue per consumer
    idempotency.py  `IdempotentConsumer`: drops redelivered events by id, bounded memory
    factory.py      `create_bus(backend)`: the backend named in settings
    fanout.py       `task_queue(...)`: a queue + rule of this task's own, so that every
                    task of a service hears an event (deploys, live history)

Delivery is at-least-once on every backend, so consumers must be idempotent by event id.

The AWS backend needs aioboto3, which only the services that talk to AWS install: its
names are imported on first use (PEP 562), so `import shared.events` stays light and a
service image without aioboto3 (web, gateway) still starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shared.events.bus import (
    DeadLetter,
    DeadLetterListener,
    EventBus,
    EventHandler,
    Subscription,
)
from shared.events.factory import BusBackend, create_bus
from shared.events.idempotency import IdempotentConsumer
from shared.events.memory import MemoryEventBus

if TYPE_CHECKING:
    from shared.events.eventbridge import AwsBusConfig, EventBridgeBus
    from shared.events.fanout import FanoutConfig, fanout_prefix, task_queue

__all__ = [
    "AwsBusConfig",
    "BusBackend",
    "DeadLetter",
    "DeadLetterListener",
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

# Names served lazily -> the module that defines them (and needs aioboto3).
_LAZY = {
    "AwsBusConfig": "shared.events.eventbridge",
    "EventBridgeBus": "shared.events.eventbridge",
    "FanoutConfig": "shared.events.fanout",
    "fanout_prefix": "shared.events.fanout",
    "task_queue": "shared.events.fanout",
}


def __getattr__(name: str) -> Any:
    """Import an AWS-backend name on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
