"""When the model endpoint is down, WAS answers 503 + Retry-After quickly, opens its
circuit breaker, and later calls fail fast without touching the endpoint."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from services.was import keys
from shared.contracts.events import Event, EventType
from shared.events import MemoryEventBus
from shared.ports import free_port
from shared.resilience import BreakerState
from tests.conftest import make_image_bytes

Client = TestClient[Any, Any]


def _closed_port() -> int:
    return free_port()  # nothing listens once the socket is closed


def _form() -> FormData:
    form = FormData()
    form.add_field("file", make_image_bytes(), filename="g.jpg", content_type="image/jpeg")
    return form


async def test_endpoint_down_gives_503_fast_and_opens_the_breaker(make_was: Any) -> None:
    was: Client = await make_was(
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        endpoint_max_attempts=3,
        breaker_failure_threshold=3,
        breaker_reset_timeout_s=30,
    )
    breaker = was.app[keys.ENDPOINT].breaker

    started = time.perf_counter()
    first = await was.post("/api/v1/classifications", data=_form())
    first_s = time.perf_counter() - started
    assert first.status == 503
    body = await first.json()
    assert body["error"]["code"] == "endpoint_unavailable"
    assert int(first.headers["Retry-After"]) >= 1
    assert first_s < 3.0  # bounded by connect timeout x attempts, here a refused port
    assert breaker.state is BreakerState.OPEN

    for path in ("/api/v1/classifications", "/classify/image"):
        started = time.perf_counter()
        again = await was.post(path, data=_form())
        assert again.status == 503
        assert time.perf_counter() - started < 0.5  # open: no call to the endpoint at all
        assert 1 <= int(again.headers["Retry-After"]) <= 30

    # The failed classification is kept with its image and marked failed.
    page = await (await was.get("/api/v1/classifications")).json()
    assert page["items"] and all(item["status"] == "failed" for item in page["items"])
    assert (await was.get(page["items"][0]["image_url"])).status == 200

    ready = await was.get("/ready")
    assert ready.status == 503
    assert (await ready.json())["ready"] is False
    assert (await was.get("/health")).status == 200


async def test_async_job_against_a_down_endpoint_ends_failed(
    make_was: Any, bus: MemoryEventBus
) -> None:
    failures: list[Event] = []

    async def collect(event: Event) -> None:
        failures.append(event)

    await bus.subscribe("test-observer", [EventType.CLASSIFICATION_FAILED], collect)
    was: Client = await make_was(endpoint_url=f"http://127.0.0.1:{_closed_port()}", bus=bus)
    response = await was.post(
        "/api/v1/classifications", data=_form(), headers={"Prefer": "respond-async"}
    )
    assert response.status == 202
    location = response.headers["Location"]
    deadline = time.monotonic() + 10
    status = "pending"
    while status == "pending" and time.monotonic() < deadline:
        status = (await (await was.get(location)).json())["status"]
    assert status == "failed"
    record = await (await was.get(location)).json()
    assert "unreachable" in record["error"] or "failing" in record["error"]
    async with asyncio.timeout(5):
        await bus.drain()
    [failed] = failures
    assert failed.data.kind == "classification.failed"
    assert failed.data.classification_id == record["id"]
    assert failed.data.code == "endpoint_unavailable"
    assert failed.correlation_id == response.headers["X-Request-ID"]
