"""Publishing `model.deployed`, the pipeline's one event.

Every WAS task consumes it (through its own fan-out queue on AWS) and re-describes the
endpoint. The local deploy publishes it on the bus the settings name
(`KKOT_PIPELINE_BUS_BACKEND`): the in-process memory bus by default, which only
subscribers in the same process see, or EventBridge (`aws`, e.g. against the AWS
emulator), which reaches every running task. A release to a SageMaker endpoint
publishes it the same way once the endpoint is InService with the new model.
WAS also notices a new version on its own, from the version every prediction names.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from services.pipeline.settings import PipelineSettings
from shared.contracts.events import Event, EventType, ModelDeployed
from shared.events import AwsBusConfig, EventBus, MemoryEventBus, create_bus

__all__ = ["SOURCE", "pipeline_bus", "publish_deployed"]

SOURCE = "kkot.pipeline"


async def publish_deployed(bus: EventBus | None, data: ModelDeployed) -> Event:
    """Publish model.deployed (when a bus is given) and return the event."""
    event = Event(type=EventType.MODEL_DEPLOYED, source=SOURCE, data=data)
    if bus is not None:
        await bus.publish(event)
    return event


@contextlib.asynccontextmanager
async def pipeline_bus(settings: PipelineSettings) -> AsyncIterator[EventBus]:
    """The started bus the pipeline commands publish on (publish only: no consumers)."""
    bus: EventBus
    if settings.bus_backend == "aws" and settings.event_bus_name:
        bus = create_bus(
            "aws",
            aws=AwsBusConfig(
                event_bus_name=settings.event_bus_name,
                region=settings.region,
                endpoint_url=settings.aws_endpoint_url,
            ),
        )
    else:
        bus = MemoryEventBus()
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()
