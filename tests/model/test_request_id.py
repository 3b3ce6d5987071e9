"""The caller's request id reaches the model server in the `request_id` custom attribute
(SageMaker forwards no other header): it is logged as the request id and echoed."""

from __future__ import annotations

from typing import Any

import aioboto3
import structlog
from aiohttp.test_utils import TestClient

from shared.contracts.errors import ErrorResponse
from tests.model.images import make_image_bytes
from tests.model.test_runtime_api import CREDENTIALS, NO_RETRIES, endpoint_url

Client = TestClient[Any, Any]
JPEG = make_image_bytes("JPEG")
ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


async def test_aioboto3_request_id_attribute_is_logged_and_echoed(client: Client) -> None:
    session = aioboto3.Session(**CREDENTIALS)
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        async with session.client(
            "sagemaker-runtime", endpoint_url=endpoint_url(client), config=NO_RETRIES
        ) as runtime:
            response = await runtime.invoke_endpoint(
                EndpointName="kkot-flowers",
                ContentType="image/jpeg",
                CustomAttributes="top_k=3,request_id=trace-7",
                Body=JPEG,
            )
            await response["Body"].read()
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-request-id"] == "trace-7"
    access = [line for line in logs if line["event"] == "request" and line["service"] == "model"]
    assert [(line["request_id"], line["status"]) for line in access] == [("trace-7", 200)]


async def test_the_attribute_wins_over_x_request_id(client: Client) -> None:
    response = await client.post(
        "/invocations",
        data=JPEG,
        headers={
            "Content-Type": "image/jpeg",
            "X-Request-ID": "from-header",
            ATTRIBUTES: "request_id=from-attribute",
        },
    )
    assert response.status == 200
    assert response.headers["X-Request-ID"] == "from-attribute"
    plain = await client.post(
        "/invocations",
        data=JPEG,
        headers={"Content-Type": "image/jpeg", "X-Request-ID": "from-header"},
    )
    assert plain.headers["X-Request-ID"] == "from-header"


async def test_an_unsafe_request_id_is_400_and_not_echoed(client: Client) -> None:
    response = await client.post(
        "/invocations",
        data=JPEG,
        headers={"Content-Type": "image/jpeg", ATTRIBUTES: "request_id=a/b"},
    )
    assert response.status == 400
    error = ErrorResponse.model_validate(await response.json()).error
    assert error.code == "invalid_custom_attributes"
    assert "request_id" in error.message
    assert error.request_id == response.headers["X-Request-ID"] != "a/b"


async def test_unknown_keys_are_still_400_under_the_callers_request_id(client: Client) -> None:
    response = await client.post(
        "/invocations",
        data=JPEG,
        headers={"Content-Type": "image/jpeg", ATTRIBUTES: "request_id=trace-8,topk=3"},
    )
    assert response.status == 400
    error = ErrorResponse.model_validate(await response.json()).error
    assert error.code == "invalid_custom_attributes"
    assert "unknown attribute 'topk'" in error.message
    assert error.request_id == response.headers["X-Request-ID"] == "trace-8"
