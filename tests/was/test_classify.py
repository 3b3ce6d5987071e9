"""Classifying real flower photos through WAS and the real model server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from shared.contracts.classification import (
    ClassificationRecord,
    ClassificationStatus,
    CurrentModel,
    TutorialResponse,
)
from shared.contracts.events import Event, EventType
from shared.events import MemoryEventBus
from tests.conftest import make_image_bytes

Client = TestClient[Any, Any]


def _form(data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg") -> FormData:
    form = FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    return form


async def test_classify_image_answers_the_tutorial_shape(
    was: Client, flower_photo: tuple[str, bytes]
) -> None:
    name, data = flower_photo
    response = await was.post("/classify/image", data=_form(data, name))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == {"result"}
    assert set(body["result"]) == {"no", "name", "acc", "description"}
    result = TutorialResponse.model_validate(body).result
    assert 0 <= result.no < 1000
    # The fixed body cannot say which model answered or how long it took; headers do.
    assert response.headers["X-Model"].startswith("efficientnet-lite0-imagenet/")
    timing = response.headers["Server-Timing"]
    assert "was;dur=" in timing and "endpoint;dur=" in timing and "model;dur=" in timing
    assert 0 < result.acc <= 1
    assert result.name


async def test_create_classification_returns_the_record_with_model_and_timings(
    was: Client, flower_photo: tuple[str, bytes]
) -> None:
    name, data = flower_photo
    current = CurrentModel.model_validate(await (await was.get("/api/v1/models/current")).json())
    response = await was.post("/api/v1/classifications", data=_form(data, name))
    assert response.status == 201, await response.text()
    record = ClassificationRecord.model_validate(await response.json())
    assert record.status is ClassificationStatus.COMPLETED
    assert record.filename == name
    assert record.content_type == "image/jpeg"
    assert record.label and record.display_name
    assert record.confidence is not None and 0 < record.confidence <= 1
    assert record.top_k and record.top_k[0].label == record.label
    assert [t.score for t in record.top_k] == sorted((t.score for t in record.top_k), reverse=True)
    assert record.model_name == current.name
    assert record.model_version == current.version
    assert record.timing is not None
    assert record.timing.endpoint_ms > 0
    assert record.timing.model_ms is not None and 0 < record.timing.model_ms <= (
        record.timing.endpoint_ms
    )
    assert record.timing.was_ms >= 0
    # Location names the stored record; the image comes back byte for byte.
    location = response.headers["Location"]
    assert location == f"/api/v1/classifications/{record.id}"
    again = ClassificationRecord.model_validate(await (await was.get(location)).json())
    assert again == record
    image = await was.get(record.image_url)
    assert image.status == 200
    assert image.content_type == "image/jpeg"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age" in image.headers["Cache-Control"]
    assert await image.read() == data


async def test_raw_image_body_is_accepted_and_the_type_comes_from_the_bytes(was: Client) -> None:
    png = make_image_bytes("PNG")
    # The client claims JPEG; the bytes are PNG, and PNG is what is stored and served.
    response = await was.post(
        "/api/v1/classifications", data=png, headers={"Content-Type": "image/jpeg"}
    )
    assert response.status == 201, await response.text()
    record = ClassificationRecord.model_validate(await response.json())
    assert record.content_type == "image/png"
    assert record.filename is None
    image = await was.get(record.image_url)
    assert image.content_type == "image/png"


async def test_respond_async_returns_202_and_the_job_completes(
    was: Client, bus: MemoryEventBus, flower_photo: tuple[str, bytes]
) -> None:
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    await bus.subscribe(
        "test-observer",
        [EventType.CLASSIFICATION_REQUESTED, EventType.CLASSIFICATION_COMPLETED],
        collect,
    )
    name, data = flower_photo
    response = await was.post(
        "/api/v1/classifications",
        data=_form(data, name),
        headers={"Prefer": "respond-async", "X-Request-ID": "req-async-1"},
    )
    assert response.status == 202, await response.text()
    assert response.headers["Preference-Applied"] == "respond-async"
    pending = ClassificationRecord.model_validate(await response.json())
    assert pending.status is ClassificationStatus.PENDING
    assert pending.label is None
    location = response.headers["Location"]
    deadline = time.monotonic() + 30
    while True:
        record = ClassificationRecord.model_validate(await (await was.get(location)).json())
        if record.status is not ClassificationStatus.PENDING or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert record.status is ClassificationStatus.COMPLETED
    assert record.label and record.model_version and record.timing
    async with asyncio.timeout(5):
        await bus.drain()
    kinds = [(e.type, e.correlation_id) for e in seen]
    assert (EventType.CLASSIFICATION_REQUESTED, "req-async-1") in kinds
    assert (EventType.CLASSIFICATION_COMPLETED, "req-async-1") in kinds
    completed = next(e for e in seen if e.type is EventType.CLASSIFICATION_COMPLETED)
    assert completed.data.kind == "classification.completed"
    assert completed.data.outcome.classification_id == pending.id
    assert completed.data.outcome.top_k[0].label == record.label  # data, not display text


async def test_a_sync_classification_publishes_only_completed_with_data_not_text(
    was: Client, bus: MemoryEventBus
) -> None:
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    await bus.subscribe("test-observer", list(EventType), collect)
    response = await was.post(
        "/api/v1/classifications",
        data=_form(make_image_bytes()),
        headers={"X-Request-ID": "req-sync-1", "Accept-Language": "ko"},
    )
    assert response.status == 201
    record = ClassificationRecord.model_validate(await response.json())
    async with asyncio.timeout(5):
        await bus.drain()
    # Nobody consumes a "requested" event for a request answered at once: none is sent.
    assert [e.type for e in seen] == [EventType.CLASSIFICATION_COMPLETED]
    assert all(e.correlation_id == "req-sync-1" and e.source == "kkot.was" for e in seen)
    outcome = seen[0].data.outcome
    assert outcome.classification_id == record.id
    assert [s.label for s in outcome.top_k] == [s.label for s in record.top_k]
    # The event carries labels and scores, never text rendered in the caller's language.
    assert record.description and record.description not in seen[0].model_dump_json()


async def test_language_comes_from_lang_or_accept_language(was: Client) -> None:
    response = await was.get("/api/v1/labels", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert response.status == 200
    assert response.headers["Content-Language"] == "ko"
    response = await was.get("/api/v1/labels?lang=en", headers={"Accept-Language": "ko"})
    assert response.headers["Content-Language"] == "en"
    labels = await response.json()
    assert len(labels["labels"]) == 1000
    assert labels["labels"][0]["label"] == "tench"
    bad = await was.get("/api/v1/labels?lang=fr")
    assert bad.status == 400
    assert (await bad.json())["error"]["code"] == "unsupported_language"


async def test_health_and_ready(was: Client) -> None:
    assert (await was.get("/health")).status == 200
    ready = await was.get("/ready")
    assert ready.status == 200
    body = await ready.json()
    assert body["ready"] is True
    assert {d["name"] for d in body["dependencies"]} == {"model-endpoint", "classification-store"}


async def test_a_redelivered_request_event_is_classified_once(
    was: Client, bus: MemoryEventBus
) -> None:
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    await bus.subscribe(
        "test-observer",
        [EventType.CLASSIFICATION_REQUESTED, EventType.CLASSIFICATION_COMPLETED],
        collect,
    )
    response = await was.post(
        "/api/v1/classifications",
        data=_form(make_image_bytes()),
        headers={"Prefer": "respond-async"},
    )
    assert response.status == 202
    async with asyncio.timeout(30):
        while not any(e.type is EventType.CLASSIFICATION_COMPLETED for e in seen):
            await bus.drain()
            await asyncio.sleep(0.01)
        requested = next(e for e in seen if e.type is EventType.CLASSIFICATION_REQUESTED)
        # At-least-once delivery: the same event arrives again.
        await bus.publish(requested)
        await bus.publish(requested)
        await bus.drain()
    completed = [e for e in seen if e.type is EventType.CLASSIFICATION_COMPLETED]
    assert len(completed) == 1
