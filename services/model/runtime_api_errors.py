"""SageMaker Runtime error semantics on `/endpoints/{EndpointName}/invocations`.

Amazon SageMaker does not pass a container's error through: it answers HTTP 424 with
`x-amzn-ErrorType: ModelError` and a body holding the container's status and message.
botocore turns that into `ModelError` with `OriginalStatusCode` and `OriginalMessage`.
This middleware gives the local Runtime path the same behaviour, so the client code
that handles errors is the same locally and on AWS. The container path
(`/invocations`) keeps plain status codes.

It also applies SageMaker's limits on that path, which AWS enforces before the
container sees anything: a payload over 6 MB is refused with 413 (not a ModelError),
and an invocation that runs over 60 s answers a ModelError saying it timed out.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.typedefs import Handler

from services.model.keys import SETTINGS
from services.model.routes import RUNTIME_ROUTE
from shared.contracts.errors import ErrorBody, ErrorResponse
from shared.contracts.prediction import RuntimeModelError
from shared.http.answers import error_answer, json_answer
from shared.middleware import request_id_of

__all__ = ["runtime_error_middleware"]


@web.middleware
async def runtime_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On the Runtime route: SageMaker's limits, and errors as its 424 ModelError."""
    if request.match_info.route.name != RUNTIME_ROUTE:
        return await handler(request)
    settings = request.app[SETTINGS]
    limit = settings.runtime_max_payload_bytes
    if request.content_length is not None and request.content_length > limit:
        return _payload_too_large(request, limit)
    try:
        async with asyncio.timeout(settings.runtime_timeout_s):
            response = await handler(request)
    except TimeoutError:
        message = (
            "Your invocation timed out while waiting for a response from container primary "
            f"(the {settings.runtime_timeout_s:g} s limit of a real-time endpoint)."
        )
        response = error_answer(504, "invocation_timeout", message, request_id_of(request))
    if response.status < 400 or not isinstance(response, web.Response):
        return response
    original = response.text or ""
    try:
        inner = ErrorResponse.model_validate(json.loads(original)).error
    except ValueError:
        inner = ErrorBody(
            code="model_error", message=original[:500], request_id=request_id_of(request)
        )
    endpoint = request.match_info.get("EndpointName", "")
    body = RuntimeModelError(
        error=inner,
        Message=(
            f"Received {'server' if response.status >= 500 else 'client'} error "
            f'({response.status}) from primary with message "{original}". '
            f"Endpoint {endpoint}."
        ),
        OriginalStatusCode=response.status,
        OriginalMessage=original,
    )
    headers = {k: v for k, v in response.headers.items() if k.lower() == "retry-after"}
    headers["x-amzn-ErrorType"] = "ModelError"
    return json_answer(body, 424, headers=headers)


def _payload_too_large(request: web.Request, limit: int) -> web.Response:
    """SageMaker's own refusal of a big payload: 413 before the container, no ModelError."""
    message = (
        f"Request payload of {request.content_length:,} bytes is larger than the "
        f"{limit:,}-byte limit of a real-time endpoint"
    )
    return error_answer(
        413,
        "payload_too_large",
        message,
        request_id_of(request),
        {"x-amzn-ErrorType": "ValidationError"},
    )
