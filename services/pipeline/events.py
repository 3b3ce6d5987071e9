"""Publishing the pipeline's events (model.registered, model.deployed).

The CLI publishes on an in-process memory bus, so only subscribers in the same process
see them; delivery to other processes comes with the EventBridge backend. WAS also
learns the served version from the model server itself (GET /admin/model).
"""

from __future__ import annotations

from shared.contracts.events import Event, EventType, ModelDeployed, ModelRegistered
from shared.events import EventBus

__all__ = ["SOURCE", "publish_deployed", "publish_registered"]

SOURCE = "kkot.pipeline"


async def publish_registered(bus: EventBus | None, data: ModelRegistered) -> Event:
    """Publish model.registered (when a bus is given) and return the event."""
    event = Event(type=EventType.MODEL_REGISTERED, source=SOURCE, data=data)
    if bus is not None:
        await bus.publish(event)
    return event


async def publish_deployed(bus: EventBus | None, data: ModelDeployed) -> Event:
    """Publish model.deployed (when a bus is given) and return the event."""
    event = Event(type=EventType.MODEL_DEPLOYED, source=SOURCE, data=data)
    if bus is not None:
        await bus.publish(event)
    return event
