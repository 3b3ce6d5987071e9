"""WAS with every AWS backend (DynamoDB records, S3 images, EventBridge + SQS events)
against moto, and the real model server with the default model: a background
classification travels EventBridge -> the was queue -> WAS's consumer, and the result is
in DynamoDB, the image in S3 and the events on the web queue."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aioboto3
from aiohttp import FormData

from services.was.app import create_app
from shared.contracts.classification import (
    ClassificationPage,
    ClassificationRecord,
    ClassificationStatus,
)
from shared.contracts.events import Event, EventType
from tests.aws.conftest import REGION, BusResources
from tests.was.conftest import was_settings


def _form(data: bytes) -> FormData:
    form = FormData()
    form.add_field("file", data, filename="flower.jpg", content_type="image/jpeg")
    return form


async def test_was_classifies_with_dynamodb_s3_and_eventbridge(
    aiohttp_client: Any,
    tmp_path: Path,
    model_server_url: str,
    bus_resources: BusResources,
    table_name: str,
    bucket: str,
    jpeg_bytes: bytes,
) -> None:
    settings = was_settings(
        tmp_path,
        model_server_url,
        store_backend="dynamodb",
        blob_backend="s3",
        bus_backend="aws",
        table_name=table_name,
        images_bucket=bucket,
        event_bus_name=bus_resources.bus_name,
        events_queue_url=bus_resources.queue_urls["was"],
        aws_endpoint_url=bus_resources.endpoint_url,
        region=REGION,
        events_wait_time_s=1,
        events_retry_visibility_s=0,
    )
    was = await aiohttp_client(create_app(settings))

    response = await was.post(
        "/api/v1/classifications",
        data=_form(jpeg_bytes),
        headers={"Prefer": "respond-async", "X-Request-ID": "req-aws-1"},
    )
    assert response.status == 202, await response.text()
    pending = ClassificationRecord.model_validate(await response.json())
    location = response.headers["Location"]
    # Only WAS's SQS consumer can finish it: the request went out through EventBridge.
    deadline = time.monotonic() + 30
    while True:
        record = ClassificationRecord.model_validate(await (await was.get(location)).json())
        if record.status is not ClassificationStatus.PENDING or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert record.status is ClassificationStatus.COMPLETED, record
    assert record.label and record.model_version and record.confidence is not None

    session = aioboto3.Session()
    endpoint = bus_resources.endpoint_url
    async with (
        session.client("dynamodb", region_name=REGION, endpoint_url=endpoint) as dynamodb,
        session.client("s3", region_name=REGION, endpoint_url=endpoint) as s3,
        session.client("sqs", region_name=REGION, endpoint_url=endpoint) as sqs,
    ):
        item = (await dynamodb.get_item(TableName=table_name, Key={"pk": {"S": pending.id}}))[
            "Item"
        ]
        assert item["status"] == {"S": "completed"}
        body = json.loads(item["body"]["S"])
        assert body["top_k"][0]["label"] == record.label
        image = await s3.get_object(Bucket=bucket, Key=body["image_key"])
        async with image["Body"] as stream:
            assert await stream.read() == jpeg_bytes
        assert image["ContentType"] == "image/jpeg"

        # A queue routing every classification event saw them go by.
        seen: dict[EventType, Event] = {}
        async with asyncio.timeout(15):
            while EventType.CLASSIFICATION_COMPLETED not in seen:
                got = await sqs.receive_message(
                    QueueUrl=bus_resources.queue_urls["web"],
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                )
                for message in got.get("Messages", []):
                    event = Event.model_validate(json.loads(message["Body"])["detail"])
                    seen[event.type] = event
    assert seen[EventType.CLASSIFICATION_REQUESTED].correlation_id == "req-aws-1"
    completed = seen[EventType.CLASSIFICATION_COMPLETED]
    assert completed.data.kind == "classification.completed"
    assert completed.data.outcome.classification_id == pending.id
    assert completed.data.outcome.top_k[0].label == record.label

    # The API reads back from the same stores: list (DynamoDB GSI) and image (S3).
    page = ClassificationPage.model_validate(
        await (await was.get("/api/v1/classifications?limit=5")).json()
    )
    assert [item.id for item in page.items] == [pending.id]
    served = await was.get(f"/api/v1/classifications/{pending.id}/image")
    assert served.status == 200
    assert await served.read() == jpeg_bytes
    ready = await was.get("/ready")
    assert ready.status == 200, await ready.text()
