"""`model.deployed` on a stage's event bus once its endpoint serves a released package.

WAS tasks consume it to refresh what they know about the served model at once (they
would otherwise notice at the next prediction). It goes through the project's own bus
(shared.events, EventBridge backend) and contract (ModelDeployed), so consumers see the
same envelope the pipeline publishes locally. The clients take the standard settings
(`AWS_ENDPOINT_URL`, the credential chain) themselves; the region is the session's.
"""

from __future__ import annotations

import asyncio

from services.pipeline.events import publish_deployed
from shared.contracts.events import Event, ModelDeployed
from shared.events import create_bus
from shared.events.eventbridge import AwsBusConfig

__all__ = ["announce_deployed"]


def announce_deployed(bus_name: str, region: str, data: ModelDeployed) -> Event:
    """Publish `data` as model.deployed on EventBridge bus `bus_name`; the event sent."""
    return asyncio.run(_publish(AwsBusConfig(event_bus_name=bus_name, region=region), data))


async def _publish(config: AwsBusConfig, data: ModelDeployed) -> Event:
    bus = create_bus("aws", aws=config)
    await bus.start()
    try:
        return await publish_deployed(bus, data)
    finally:
        await bus.close()
