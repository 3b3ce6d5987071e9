"""Every task learns of a deploy, and live history reaches a browser on any web task.

TWO WAS tasks and TWO web tasks in `aws` mode against moto (EventBridge + SQS, DynamoDB,
S3), each with its own fan-out queue, and one model server as the endpoint. A deploy
(the model swapped, `model.deployed` published on EventBridge as `kkot models deploy`
does) must show in all four within a few seconds: every WAS answers the new model's
labels, every web page shows the new version. A classification through one WAS must
reach the live stream (SSE) of a client connected to EITHER web task. When the tasks
stop, their fan-out queues and rules are gone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aioboto3
from aiohttp import ClientSession, FormData
from aiohttp.test_utils import TestClient

from services.pipeline.events import pipeline_bus, publish_deployed
from services.pipeline.settings import PipelineSettings
from services.was.app import create_app as create_was
from services.web.app import create_app as create_web
from services.web.settings import WebSettings
from shared.contracts.classification import LabelsResponse
from shared.contracts.events import ModelDeployed
from shared.events import fanout_prefix
from tests.aws.conftest import REGION, BusResources
from tests.conftest import make_image_bytes, start_model_server
from tests.was.conftest import was_settings
from tests.was.test_model_info import relabelled_copy

Client = TestClient[Any, Any]
DEPLOY_WITHIN_S = 10.0  # "a few seconds", with room for a loaded machine


async def _read_event(stream: Any, within_s: float) -> bytes:
    """The next SSE event block that is not a comment (connected, heartbeat)."""
    async with asyncio.timeout(within_s):
        while True:
            block = await stream.content.readuntil(b"\n\n")
            if not block.startswith(b":") and b"event:" in block:
                return bytes(block)


async def _until_every_task_serves_v2(
    was_tasks: list[Client], web_tasks: list[Client], deployed_at: float
) -> None:
    """Every WAS task answers the new labels; every web task shows the new version."""
    pending = {f"was{n}" for n in range(len(was_tasks))} | {
        f"web{n}" for n in range(len(web_tasks))
    }
    while pending:
        assert time.monotonic() - deployed_at < DEPLOY_WITHIN_S, f"not updated: {pending}"
        for n, was in enumerate(was_tasks):
            labels = LabelsResponse.model_validate(await (await was.get("/api/v1/labels")).json())
            if labels.model_version == "v2" and labels.labels[0].label.startswith("v2-"):
                pending.discard(f"was{n}")
        for n, web in enumerate(web_tasks):
            if "<code>v2</code>" in await (await web.get("/model")).text():
                pending.discard(f"web{n}")
        await asyncio.sleep(0.1)


async def test_two_was_and_two_web_tasks_all_hear_a_deploy_and_every_live_stream_updates(
    aiohttp_server: Any,
    aiohttp_client: Any,
    tmp_path: Path,
    default_model_dir: Path,
    bus_resources: BusResources,
    table_name: str,
    bucket: str,
) -> None:
    model_url = await start_model_server(aiohttp_server, default_model_dir, admin_enabled=True)
    aws = {
        "aws_endpoint_url": bus_resources.endpoint_url,
        "region": REGION,
        "event_bus_name": bus_resources.bus_name,
        "events_wait_time_s": 1,
    }
    was_tasks: list[Client] = []
    for n in range(2):
        settings = was_settings(
            tmp_path / f"was{n}",
            model_url,
            store_backend="dynamodb",
            blob_backend="s3",
            bus_backend="aws",
            table_name=table_name,
            images_bucket=bucket,
            events_queue_url=bus_resources.queue_urls["was"],
            **aws,
        )
        was_tasks.append(await aiohttp_client(create_was(settings)))
    web_tasks: list[Client] = []
    for was in was_tasks:
        settings = WebSettings(
            was_url=str(was.make_url("")).rstrip("/"),
            events_source="bus",
            bus_backend="aws",
            **aws,
        )
        web_tasks.append(await aiohttp_client(create_web(settings)))

    async with aioboto3.Session().client(
        "sqs", region_name=REGION, endpoint_url=bus_resources.endpoint_url
    ) as sqs:
        prefix = fanout_prefix(bus_resources.bus_name)
        queues = (await sqs.list_queues(QueueNamePrefix=prefix)).get("QueueUrls", [])
        assert len(queues) == 4  # one per task

    # Both WAS tasks know the served model (described through invoke_endpoint).
    for was in was_tasks:
        deadline = time.monotonic() + 20
        while (await was.get("/api/v1/labels")).status != 200:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)

    # A browser on each web task.
    streams = [await web.get("/events") for web in web_tasks]
    for stream in streams:
        assert stream.status == 200
        await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)

    # Deploy: the endpoint serves v2 (relabelled), and the deploy announces it.
    await _swap(model_url, relabelled_copy(default_model_dir, tmp_path / "v2", "v2"))
    deployed_at = time.monotonic()
    pipeline = PipelineSettings(
        bus_backend="aws",
        event_bus_name=bus_resources.bus_name,
        aws_endpoint_url=bus_resources.endpoint_url,
        region=REGION,
    )
    async with pipeline_bus(pipeline) as bus:
        await publish_deployed(
            bus, ModelDeployed(model_name="efficientnet-lite0-imagenet", model_version="v2")
        )

    await _until_every_task_serves_v2(was_tasks, web_tasks, deployed_at)

    # One classification through the first WAS reaches the browsers on BOTH web tasks,
    # with the new model's label.
    form = FormData()
    form.add_field("file", make_image_bytes(), filename="g.jpg", content_type="image/jpeg")
    created = await was_tasks[0].post("/api/v1/classifications", data=form)
    assert created.status == 201, await created.text()
    record_id = (await created.json())["id"]
    for stream in streams:
        block = await _read_event(stream, within_s=10)
        assert block.startswith(f"id: {record_id}".encode())
        stream.close()

    for client in (*web_tasks, *was_tasks):
        await client.close()
    async with aioboto3.Session().client(
        "sqs", region_name=REGION, endpoint_url=bus_resources.endpoint_url
    ) as sqs:
        left = (await sqs.list_queues(QueueNamePrefix=prefix)).get("QueueUrls", [])
        assert left == []  # each task removed its own queue (and rule) at stop


async def _swap(url: str, model_dir: Path) -> None:
    async with (
        ClientSession() as session,
        session.post(f"{url}/admin/model", json={"model_dir": str(model_dir)}) as response,
    ):
        assert response.status == 200, await response.text()
