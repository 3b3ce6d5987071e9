"""SageMaker Runtime error semantics on `/endpoints/{EndpointName}/invocations`.

Amazon SageMaker does not pass a container's error through: it answers HTTP 424 with
`x-amzn-ErrorType: ModelError` and a body holding the container's status and message.
botocore turns that into `ModelError` with `OriginalStatusCode` and `OriginalMessage`.
This middleware gives the local Runtime path the same behaviour, so the client code
that handles errors is the same locally and on AWS. The container path
(`/invocations`) keeps plain status codes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.model.routes import RUNTIME_ROUTE
from shared.contracts.errors import ErrorBody, ErrorResponse
from shared.contracts.prediction import RuntimeModelError
from shared.middleware import request_id_of

__all__ = ["runtime_error_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def runtime_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Wrap error responses of the Runtime route as SageMaker's 424 ModelError."""
    response = await handler(request)
    if (
        response.status < 400
        or request.match_info.route.name != RUNTIME_ROUTE
        or not isinstance(response, web.Response)
    ):
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
    return web.Response(
        status=424,
        body=body.model_dump_json().encode(),
        content_type="application/json",
        headers=headers,
    )
