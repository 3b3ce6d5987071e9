"""WAS passes the caller's request id to the model endpoint (custom attribute
`request_id`), so the model server's log lines carry the same id."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from services.was.endpoint import EndpointClient
from shared.contracts.classification import ClassificationRecord, ClassificationStatus
from shared.resilience import CircuitBreaker, RetryPolicy
from tests.conftest import make_image_bytes

Client = TestClient[Any, Any]


def _model_lines(logs: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [
        line
        for line in logs
        if line.get("service") == "model"
        and line.get("event") == "request"
        and line.get("request_id") == request_id
    ]


async def _upload(was: Client, request_id: str, **headers: str) -> tuple[int, str]:
    form = FormData()
    form.add_field("file", make_image_bytes(), filename="g.jpg", content_type="image/jpeg")
    response = await was.post(
        "/api/v1/classifications", data=form, headers={"X-Request-ID": request_id, **headers}
    )
    return response.status, response.headers.get("Location", "")


async def test_the_model_server_logs_the_callers_request_id(was: Client) -> None:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        assert (await _upload(was, "was-trace-9"))[0] == 201
    lines = _model_lines(logs, "was-trace-9")
    assert len(lines) == 1, [line for line in logs if line.get("service") == "model"]
    assert lines[0]["path"].endswith("/invocations") and lines[0]["status"] == 200


async def test_a_background_job_passes_on_the_request_id_too(was: Client) -> None:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        status, location = await _upload(was, "was-async-9", Prefer="respond-async")
        assert status == 202
        deadline = time.monotonic() + 30
        while True:
            record = ClassificationRecord.model_validate(await (await was.get(location)).json())
            if record.status is not ClassificationStatus.PENDING or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    assert record.status is ClassificationStatus.COMPLETED
    assert len(_model_lines(logs, "was-async-9")) == 1


def test_custom_attributes_carry_only_a_safe_request_id() -> None:
    client = EndpointClient(
        None, "kkot", retry=RetryPolicy(), breaker=CircuitBreaker("model"), top_k=5
    )
    assert client.custom_attributes("abc-1") == "top_k=5,request_id=abc-1"
    assert client.custom_attributes(None) == "top_k=5"
    assert client.custom_attributes("a,b=c") == "top_k=5"
