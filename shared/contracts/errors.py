"""The single error shape: `{"error": {"code", "message", "request_id"}}`."""

from __future__ import annotations

from shared.contracts.base import Contract


class ErrorBody(Contract):
    code: str
    message: str
    request_id: str


class ErrorResponse(Contract):
    error: ErrorBody
