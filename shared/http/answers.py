"""JSON answers: a contract as the body, and the one error shape.

Every service answers JSON through these two, so the body is always the contract's own
`model_dump_json()` and every error reads `{"error": {"code", "message", "request_id"}}`.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from shared.contracts.errors import ErrorBody, ErrorResponse
from shared.contracts.prediction import JSON_CONTENT_TYPE

__all__ = ["error_answer", "json_answer"]


def json_answer(
    body: BaseModel, status: int = 200, *, headers: dict[str, str] | None = None
) -> web.Response:
    """`body` (a contract) as a JSON response."""
    return web.Response(
        body=body.model_dump_json().encode(),
        status=status,
        content_type=JSON_CONTENT_TYPE,
        headers=headers,
    )


def error_answer(
    status: int,
    code: str,
    message: str,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The one error shape, with `status`."""
    body = ErrorResponse(error=ErrorBody(code=code, message=message, request_id=request_id))
    return json_answer(body, status, headers=headers)
