"""How endpoint answers map onto our errors: what is retried, what opens the breaker,
and which status the client sees. Errors are built the way botocore builds them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from services.was.endpoint import _classify_client_error, _Failure, _Transient
from shared.errors import (
    InvalidImage,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    UpstreamError,
)


def _error(status: int, code: str, message: str = "", **extra: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    return ClientError(response, "InvokeEndpoint")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "kind", "cls"),
    [
        (_error(424, "ModelError", OriginalStatusCode=400), None, InvalidImage),
        (_error(424, "ModelError", OriginalStatusCode=413), None, PayloadTooLarge),
        (_error(424, "ModelError", OriginalStatusCode=415), None, UnsupportedMediaType),
        (_error(424, "ModelError", OriginalStatusCode=503), _Transient, ServiceUnavailable),
        (_error(424, "ModelError", OriginalStatusCode=500), _Failure, UpstreamError),
        (_error(429, "ThrottlingException"), _Transient, ServiceUnavailable),
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
def test_client_errors_are_sorted(error: ClientError, kind: type | None, cls: type) -> None:
    sorted_error = _classify_client_error(error)
    if kind is None:
        # The model refused the input: the caller's fault, never retried, not a failure.
        assert isinstance(sorted_error, cls)
    else:
        assert isinstance(sorted_error, kind)
        assert isinstance(sorted_error.error, cls)  # type: ignore[attr-defined]
