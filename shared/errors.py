"""The error hierarchy every service raises, each class carrying its HTTP status.

    KkotError (500)
    ├── BadRequest (400)
    │   ├── InvalidImage (400)
    │   └── InvalidPayload (400)
    ├── Unauthorized (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── NotAcceptable (406)
    ├── Conflict (409)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── Unprocessable (422)
    ├── TooManyRequests (429, Retry-After)
    ├── UpstreamError (502)
    ├── ServiceUnavailable (503, Retry-After)
    └── UpstreamTimeout (504)

`shared.middleware.error_middleware` renders any of them as the one error shape
`{"error": {"code", "message", "request_id"}}`.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InvalidImage",
    "InvalidPayload",
    "KkotError",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamTimeout",
]


class KkotError(Exception):
    """Base class: a message safe to show a client, a machine-readable code, a status."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After and the like)."""
        return {}


class BadRequest(KkotError):
    status = 400
    code = "bad_request"


class InvalidImage(BadRequest):
    code = "invalid_image"


class InvalidPayload(BadRequest):
    code = "invalid_payload"


class Unauthorized(KkotError):
    status = 401
    code = "unauthorized"


class Forbidden(KkotError):
    status = 403
    code = "forbidden"


class NotFound(KkotError):
    status = 404
    code = "not_found"


class NotAcceptable(KkotError):
    status = 406
    code = "not_acceptable"


class Conflict(KkotError):
    status = 409
    code = "conflict"


class PayloadTooLarge(KkotError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(KkotError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(KkotError):
    status = 422
    code = "validation_error"


class _RetryAfter(KkotError):
    def __init__(self, message: str, *, retry_after: float = 1.0, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        # Retry-After takes whole seconds; never advertise 0.
        return {"Retry-After": str(max(1, round(self.retry_after)))}


class TooManyRequests(_RetryAfter):
    status = 429
    code = "rate_limited"


class ServiceUnavailable(_RetryAfter):
    status = 503
    code = "service_unavailable"


class UpstreamError(KkotError):
    status = 502
    code = "upstream_error"


class UpstreamTimeout(KkotError):
    status = 504
    code = "upstream_timeout"
