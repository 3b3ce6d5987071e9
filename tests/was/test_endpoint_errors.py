"""How endpoint answers map onto our errors: what is retried, what opens the breaker,
and which status the client sees. First the policy table over the Runtime's error
answers, then whole WAS apps against a real server answering as SageMaker does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient

from services.was.endpoint import _classify_error_answer, _Failure, _Transient
from services.was.sagemaker_runtime import MAX_ANSWER_BYTES, ErrorAnswer
from shared.errors import (
    InvalidImage,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    UpstreamError,
)
from tests.conftest import make_image_bytes
from tests.was.conftest import WasClientFactory
from tests.was.runtime_server import Received, runtime_server, sagemaker_error

Client = TestClient[Any, Any]


def _error(status: int, code: str, message: str = "", original: int | None = None) -> ErrorAnswer:
    return ErrorAnswer(status, code, message, original_status=original)


@pytest.mark.parametrize(
    ("error", "kind", "cls"),
    [
        (_error(424, "ModelError", original=400), None, InvalidImage),
        (_error(424, "ModelError", original=413), None, PayloadTooLarge),
        (_error(424, "ModelError", original=415), None, UnsupportedMediaType),
        (_error(424, "ModelError", original=503), _Transient, ServiceUnavailable),
        (_error(424, "ModelError", original=500), _Failure, UpstreamError),
        (_error(429, "ThrottlingException"), _Transient, ServiceUnavailable),
        (_error(400, "ThrottlingException", "Rate exceeded"), _Transient, ServiceUnavailable),
        (_error(503, "ServiceUnavailable"), _Transient, ServiceUnavailable),
        (_error(500, "InternalFailure"), _Transient, UpstreamError),
        (
            _error(400, "ValidationError", "Endpoint kkot of account 1 not found."),
            _Failure,
            ServiceUnavailable,
        ),
        (_error(404, "404"), _Failure, ServiceUnavailable),
        (_error(403, "AccessDeniedException"), _Failure, UpstreamError),
    ],
)
def test_error_answers_are_sorted(error: ErrorAnswer, kind: type | None, cls: type) -> None:
    sorted_error = _classify_error_answer(error)
    if kind is None:
        # The model refused the input: the caller's fault, never retried, not a failure.
        assert isinstance(sorted_error, cls)
    else:
        assert isinstance(sorted_error, kind)
        assert isinstance(sorted_error.error, cls)  # type: ignore[attr-defined]


def _form() -> FormData:
    form = FormData()
    form.add_field("file", make_image_bytes(), filename="g.jpg", content_type="image/jpeg")
    return form


def _model_error_400() -> web.Response:
    return sagemaker_error(
        424,
        "ModelError",
        {
            "Message": 'Received client error (400) from primary with message "no image". ',
            "OriginalStatusCode": 400,
            "OriginalMessage": "no image",
        },
    )


@pytest.mark.parametrize(
    ("answer", "status", "code", "calls"),
    [
        # The container refused the image: the caller's 400, asked once.
        (_model_error_400, 400, None, 1),
        # Throttled (AWS says so with a 400): retried, then 503 with Retry-After.
        (
            lambda: sagemaker_error(400, "ThrottlingException", {"message": "Rate exceeded"}),
            503,
            "endpoint_unavailable",
            2,
        ),
        # No such endpoint (yet): 503, and asking again at once would not help.
        (
            lambda: sagemaker_error(
                400,
                None,
                {
                    "__type": "com.amazon.coral.validate#ValidationError",
                    "Message": "Endpoint kkot-flowers of account 123456789012 not found.",
                },
            ),
            503,
            "endpoint_unavailable",
            1,
        ),
        # A proxy's page instead of an answer, or plain text: retried, then 502.
        (lambda: web.Response(status=500, text="<html>oops</html>"), 502, None, 2),
        (lambda: web.Response(status=500, text="Internal error"), 502, None, 2),
        # A runaway endpoint: more than SageMaker's 6 MB answer limit, refused unread.
        (lambda: web.Response(body=b"x" * (MAX_ANSWER_BYTES + 1)), 502, None, 1),
    ],
    ids=["model-error-400", "throttled", "endpoint-missing", "html-500", "text-500", "too-large"],
)
async def test_was_answers_sagemakers_errors_with_our_status(
    make_was: WasClientFactory, answer: Any, status: int, code: str | None, calls: int
) -> None:
    async def respond(_received: Received) -> web.StreamResponse:
        response: web.StreamResponse = answer()
        return response

    async with runtime_server(respond) as endpoint:
        was: Client = await make_was(endpoint_url=endpoint.url, endpoint_max_attempts=2)
        response = await was.post("/api/v1/classifications", data=_form())
        body = await response.json()
        assert response.status == status, body
        if code is not None:
            assert body["error"]["code"] == code
        if status == 503:
            assert int(response.headers["Retry-After"]) >= 1
        # WAS also asks the endpoint to describe its model (JSON); count the photo's calls.
        assert endpoint.calls_with("image/jpeg") == calls


async def test_a_slow_endpoint_is_504_and_not_asked_again(make_was: WasClientFactory) -> None:
    async def slow(received: Received) -> web.StreamResponse:
        if received.headers.get("Content-Type") == "image/jpeg":
            await asyncio.sleep(3)
        return web.json_response({})

    async with runtime_server(slow) as endpoint:
        was: Client = await make_was(
            endpoint_url=endpoint.url, endpoint_max_attempts=3, read_timeout_s=0.5
        )
        response = await was.post("/api/v1/classifications", data=_form())
        assert response.status == 504, await response.text()
        assert endpoint.calls_with("image/jpeg") == 1  # a slow model stays slow
