"""What WAS knows about the deployed model: learned from the model server's admin API at
start, from `model.deployed` events, and re-read when a prediction names a new version."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from shared.contracts.classification import CurrentModel, LabelsResponse
from shared.contracts.events import Event, EventType, ModelDeployed
from shared.events import MemoryEventBus
from tests.conftest import make_image_bytes

Client = TestClient[Any, Any]


async def _current(was: Client) -> CurrentModel:
    response = await was.get("/api/v1/models/current")
    assert response.status == 200, await response.text()
    return CurrentModel.model_validate(await response.json())


async def test_current_model_and_labels_come_from_the_model_server(was: Client) -> None:
    current = await _current(was)
    assert current.name == "efficientnet-lite0-imagenet"
    assert current.num_classes == 1000
    labels = LabelsResponse.model_validate(await (await was.get("/api/v1/labels")).json())
    assert labels.model_version == current.version
    assert len(labels.labels) == 1000
    # Display text for labels outside the flower catalog comes from the model's catalog.
    assert labels.labels[0].description


async def test_model_deployed_event_then_a_prediction_refresh_the_model(
    was: Client, bus: MemoryEventBus
) -> None:
    served = await _current(was)
    await bus.publish(
        Event(
            type=EventType.MODEL_DEPLOYED,
            source="kkot.pipeline",
            data=ModelDeployed(
                model_name=served.name,
                model_version="v-from-event",
                previous_version=served.version,
                metrics={"accuracy": 0.97},
            ),
        )
    )
    async with asyncio.timeout(5):
        await bus.drain()
    after_event = await _current(was)
    assert after_event.version == "v-from-event"
    assert after_event.metrics["accuracy"] == 0.97

    # The endpoint still serves the old version: its answer makes WAS re-read the server.
    form = FormData()
    form.add_field("file", make_image_bytes(), filename="g.jpg", content_type="image/jpeg")
    response = await was.post("/api/v1/classifications", data=form)
    assert (await response.json())["model_version"] == served.version
    deadline = time.monotonic() + 5
    version = (await _current(was)).version
    while version != served.version and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        version = (await _current(was)).version
    assert version == served.version
