"""What WAS knows about the deployed model comes from the endpoint itself, asked through
`invoke_endpoint` with a describe request (what works on SageMaker too): at start
(retrying until the endpoint answers), when a prediction names a new version, and when a
`model.deployed` event arrives. The model servers here have their admin API off, as in
compose and on AWS, except where the test itself needs it to swap models."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, FormData
from aiohttp.test_utils import TestClient

from shared.contracts.classification import CurrentModel, LabelsResponse
from shared.contracts.events import Event, EventType, ModelDeployed
from shared.events import MemoryEventBus
from shared.ports import free_port
from tests.conftest import make_image_bytes, start_model_server
from tests.was.conftest import WasClientFactory

Client = TestClient[Any, Any]


def relabelled_copy(default_model_dir: Path, target: Path, version: str) -> Path:
    """The default artifact as another version whose labels all carry a prefix."""
    shutil.copytree(default_model_dir, target)
    labels = json.loads((target / "labels.json").read_text())
    labels["labels"] = [f"{version}-{label}" for label in labels["labels"]]
    (target / "labels.json").write_text(json.dumps(labels))
    catalog = json.loads((target / "catalog.json").read_text())
    for entry in catalog["entries"]:
        entry["label"] = f"{version}-{entry['label']}"
    (target / "catalog.json").write_text(json.dumps(catalog))
    metadata = json.loads((target / "metadata.json").read_text())
    metadata["version"] = version
    (target / "metadata.json").write_text(json.dumps(metadata))
    return target


async def _current(was: Client) -> CurrentModel:
    response = await was.get("/api/v1/models/current")
    assert response.status == 200, await response.text()
    return CurrentModel.model_validate(await response.json())


async def _labels(was: Client) -> LabelsResponse:
    response = await was.get("/api/v1/labels")
    assert response.status == 200, await response.text()
    return LabelsResponse.model_validate(await response.json())


async def _eventually_version(was: Client, version: str, within_s: float = 10) -> LabelsResponse:
    deadline = time.monotonic() + within_s
    while True:
        labels = await _labels(was)
        if labels.model_version == version or time.monotonic() > deadline:
            return labels
        await asyncio.sleep(0.05)


async def _swap(url: str, model_dir: Path) -> None:
    async with (
        ClientSession() as session,
        session.post(f"{url}/admin/model", json={"model_dir": str(model_dir)}) as response,
    ):
        assert response.status == 200, await response.text()


def _form() -> FormData:
    form = FormData()
    form.add_field("file", make_image_bytes(), filename="g.jpg", content_type="image/jpeg")
    return form


async def test_labels_and_catalog_come_through_invoke_endpoint_without_the_admin_api(
    aiohttp_server: Any, make_was: WasClientFactory, default_model_dir: Path
) -> None:
    url = await start_model_server(aiohttp_server, default_model_dir, admin_enabled=False)
    async with ClientSession() as session, session.get(f"{url}/admin/model") as response:
        assert response.status == 404  # no admin port to lean on
    was = await make_was(endpoint_url=url)
    current = await _current(was)
    assert current.name == "efficientnet-lite0-imagenet"
    assert current.num_classes == 1000
    labels = await _labels(was)
    assert labels.model_version == current.version
    assert len(labels.labels) == 1000
    # Display text for labels outside the flower catalog comes from the model's catalog.
    assert labels.labels[0].description


async def test_was_started_before_the_endpoint_learns_the_labels_once_it_answers(
    aiohttp_server: Any, make_was: WasClientFactory, default_model_dir: Path
) -> None:
    port = free_port()
    was = await make_was(endpoint_url=f"http://127.0.0.1:{port}")
    early = await was.get("/api/v1/labels")
    assert early.status == 503
    assert early.headers.get("Retry-After")
    await start_model_server(aiohttp_server, default_model_dir, admin_enabled=False, port=port)
    # No request to WAS is needed: its background describe retries until answered.
    deadline = time.monotonic() + 20
    while (await was.get("/api/v1/labels")).status != 200:
        assert time.monotonic() < deadline, "WAS never learnt the labels"
        await asyncio.sleep(0.2)
    assert len((await _labels(was)).labels) == 1000


async def test_a_prediction_with_a_new_version_makes_was_describe_the_endpoint_again(
    aiohttp_server: Any, make_was: WasClientFactory, default_model_dir: Path, tmp_path: Path
) -> None:
    url = await start_model_server(aiohttp_server, default_model_dir, admin_enabled=True)
    was = await make_was(endpoint_url=url)
    before = await _current(was)
    await _swap(url, relabelled_copy(default_model_dir, tmp_path / "v2", "v2"))
    assert (await _current(was)).version == before.version  # nobody told WAS
    created = await was.post("/api/v1/classifications", data=_form())
    assert created.status == 201
    assert (await created.json())["model_version"] == "v2"
    labels = await _eventually_version(was, "v2")
    assert labels.model_version == "v2"
    assert all(info.label.startswith("v2-") for info in labels.labels)
    feedback = await was.post(
        f"/api/v1/classifications/{(await created.json())['id']}/feedback",
        json={"label": labels.labels[3].label},
    )
    assert feedback.status == 200, await feedback.text()


async def test_a_model_deployed_event_makes_was_describe_the_endpoint_again(
    aiohttp_server: Any,
    make_was: WasClientFactory,
    default_model_dir: Path,
    tmp_path: Path,
    bus: MemoryEventBus,
) -> None:
    url = await start_model_server(aiohttp_server, default_model_dir, admin_enabled=True)
    was = await make_was(endpoint_url=url, bus=bus)
    before = await _current(was)
    await _swap(url, relabelled_copy(default_model_dir, tmp_path / "v3", "v3"))
    await bus.publish(
        Event(
            type=EventType.MODEL_DEPLOYED,
            source="kkot.pipeline",
            data=ModelDeployed(
                model_name=before.name, model_version="v3", previous_version=before.version
            ),
        )
    )
    labels = await _eventually_version(was, "v3", within_s=5)
    assert labels.model_version == "v3"
    assert labels.labels[0].label.startswith("v3-")
