"""The model endpoint, reached only through aioboto3's `sagemaker-runtime` client.

The image goes as its own bytes with its content type (never a float tensor in JSON);
the answer is a `shared.contracts.prediction.Prediction`. The request id rides in the
custom attributes (`request_id=`), the only header SageMaker forwards to the container,
so the model server logs under the same id.

Failure handling (botocore's own retries are off so this policy is the only one):

    connection refused / connect timeout / 5xx / throttling   retried (full jitter),
                                                              count against the breaker
    read timeout                                              not retried (a slow model
                                                              stays slow), counts -> 504
    the model refused the image (400/413/415/422, or a        not retried, not a failure
    ModelError whose original status is 4xx)                  -> 400/413/415
    breaker open                                              -> 503 at once, Retry-After

After the last attempt: throttling/unavailable/unreachable -> 503 (Retry-After),
other server errors and unreadable answers -> 502, timeouts -> 504.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from pydantic import ValidationError

from shared.contracts.model import ModelDescription
from shared.contracts.prediction import (
    JSON_CONTENT_TYPE,
    SAGEMAKER_MAX_PAYLOAD_BYTES,
    DescribeRequest,
    Prediction,
)
from shared.custom_attributes import REQUEST_ID_ATTRIBUTE, format_custom_attributes
from shared.errors import (
    InvalidImage,
    KkotError,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamTimeout,
)
from shared.middleware import is_safe_request_id
from shared.resilience import CircuitBreaker, CircuitOpen, RetryPolicy, retry_call

__all__ = ["EndpointClient", "EndpointResult"]

_log = structlog.get_logger("kkot.was.endpoint")

_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "ModelNotReadyException",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {"ThrottlingException", "ServiceUnavailable", "ServiceUnavailableException"}
)


class _Transient(Exception):
    """A failure worth retrying; carries the error to raise if retries run out."""

    def __init__(self, error: KkotError) -> None:
        super().__init__(error.message)
        self.error = error


class _Failure(Exception):
    """A failure of the endpoint not worth retrying (it still counts against the breaker)."""

    def __init__(self, error: KkotError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class EndpointResult:
    """A prediction and how long the round trip to the endpoint took."""

    prediction: Prediction
    endpoint_ms: float
    attempts: int


def _status_and_code(exc: ClientError) -> tuple[int, str, Any]:
    response: dict[str, Any] = dict(exc.response)
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(response.get("Error", {}).get("Code") or status)
    return status, code, response.get("OriginalStatusCode")


def _client_refusal(status: int, message: str) -> KkotError | None:
    """The model's 4xx verdict on the image, as our own 4xx; None if not such a verdict."""
    if status == 413:
        return PayloadTooLarge("the model endpoint refused the image as too large")
    if status == 415:
        return UnsupportedMediaType("the model endpoint cannot read this image format")
    if status in (400, 422):
        return InvalidImage(
            f"the model could not read this image{': ' + message if message else ''}"
        )
    return None


def _classify_client_error(exc: ClientError) -> Exception:
    """Sort a botocore ClientError into retryable / failure / refusal."""
    status, code, original = _status_and_code(exc)
    message = str(exc.response.get("Error", {}).get("Message") or "")[:200]
    if code == "ModelError":
        original_status = int(original or 0)
        refusal = _client_refusal(original_status, message)
        if refusal is not None:
            return refusal
        if original_status in (429, 503):
            # The model server is loading, swapping or saturated: worth another try.
            return _Transient(ServiceUnavailable("the model is not ready; try again shortly"))
        if original_status in (0, 504) and "timed out" in message.lower():
            # The endpoint's 60 s invocation limit: a slow model stays slow, no retry.
            return _Failure(UpstreamTimeout("the model endpoint did not answer in time"))
        return _Failure(UpstreamError(f"the model failed (status {original_status or '?'})"))
    if status == 404 or (code == "ValidationError" and "not found" in message.lower()):
        return _Failure(ServiceUnavailable("the model endpoint does not exist (yet)"))
    refusal = _client_refusal(status, message)
    if refusal is not None:
        return refusal
    if status == 429 or code in _UNAVAILABLE_CODES or status == 503:
        return _Transient(ServiceUnavailable("the model endpoint is busy or unavailable"))
    if status >= 500 or code in _RETRYABLE_CODES:
        return _Transient(UpstreamError(f"the model endpoint failed (status {status})"))
    return _Failure(UpstreamError(f"unexpected answer from the model endpoint ({code})"))


class EndpointClient:
    """Invoke one endpoint with bounded retries under a circuit breaker."""

    def __init__(
        self,
        client: Any,
        endpoint_name: str,
        *,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
        top_k: int = 5,
    ) -> None:
        self._client = client
        self.endpoint_name = endpoint_name
        self.top_k = top_k
        self.retry = retry
        self.breaker = breaker

    def custom_attributes(self, request_id: str | None) -> str:
        """`top_k=N`, plus `request_id=<id>` when there is a safe one to pass on."""
        attributes: dict[str, str | int | bool] = {"top_k": self.top_k}
        if request_id and is_safe_request_id(request_id):
            attributes[REQUEST_ID_ATTRIBUTE] = request_id
        return format_custom_attributes(attributes)

    async def fetch_description(self) -> ModelDescription:
        """The served model's description, asked of the endpoint itself (one attempt,
        outside the breaker: the caller retries, and a description must not open the
        circuit that guards classifications)."""
        body = DescribeRequest(describe=True).model_dump_json().encode()
        try:
            payload = await self._call(body, JSON_CONTENT_TYPE, "")
        except (_Transient, _Failure) as exc:
            raise exc.error from exc
        try:
            return ModelDescription.model_validate_json(payload)
        except ValidationError as exc:
            raise UpstreamError("the model endpoint answered an unreadable description") from exc

    async def _invoke_once(self, body: bytes, content_type: str, attributes: str) -> Prediction:
        payload = await self._call(body, content_type, attributes)
        try:
            return Prediction.model_validate_json(payload)
        except ValidationError as exc:
            raise _Failure(UpstreamError("the model endpoint answered an unreadable body")) from exc

    async def _call(self, body: bytes, content_type: str, attributes: str) -> bytes:
        """One `invoke_endpoint`; failures sorted into retryable / failure / refusal."""
        if len(body) > SAGEMAKER_MAX_PAYLOAD_BYTES:
            # A bug upstream (uploads are re-encoded first); never send what AWS refuses.
            raise PayloadTooLarge("the image is larger than the model endpoint accepts")
        extra = {"CustomAttributes": attributes} if attributes else {}
        try:
            response = await self._client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                Body=body,
                ContentType=content_type,
                Accept="application/json",
                **extra,
            )
            async with response["Body"] as stream:
                payload: bytes = await stream.read()
        except ClientError as exc:
            raise _classify_client_error(exc) from exc
        except ReadTimeoutError as exc:
            raise _Failure(UpstreamTimeout("the model endpoint did not answer in time")) from exc
        except (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError) as exc:
            raise _Transient(ServiceUnavailable("the model endpoint is unreachable")) from exc
        except BotoCoreError as exc:
            raise _Transient(UpstreamError(f"calling the model endpoint failed: {exc}")) from exc
        return payload

    async def invoke(
        self, body: bytes, content_type: str, *, request_id: str | None = None
    ) -> EndpointResult:
        """Classify one image; raises `shared.errors` classes with the right status.

        `request_id` goes to the model server (custom attribute) for its logs."""
        attempts = 0
        attributes = self.custom_attributes(request_id)

        async def attempt() -> Prediction:
            nonlocal attempts
            attempts += 1
            return await self.breaker.call(
                lambda: self._invoke_once(body, content_type, attributes),
                lambda exc: isinstance(exc, _Transient | _Failure),
            )

        def on_retry(number: int, exc: BaseException, pause: float) -> None:
            _log.warning(
                "endpoint_retry", attempt=number, error=str(exc), pause_ms=round(pause * 1000, 1)
            )

        started = time.perf_counter()
        try:
            prediction = await retry_call(
                attempt, self.retry, lambda exc: isinstance(exc, _Transient), on_retry=on_retry
            )
        except CircuitOpen as exc:
            raise ServiceUnavailable(
                "the model endpoint is failing; not calling it for a while",
                retry_after=exc.retry_after,
                code="endpoint_unavailable",
            ) from exc
        except (_Transient, _Failure) as exc:
            error = exc.error
            if isinstance(error, ServiceUnavailable):
                raise ServiceUnavailable(
                    error.message,
                    retry_after=self.breaker.reset_timeout
                    if self.breaker.state != "closed"
                    else 1.0,
                    code="endpoint_unavailable",
                ) from exc
            raise error from exc
        return EndpointResult(
            prediction=prediction,
            endpoint_ms=(time.perf_counter() - started) * 1000,
            attempts=attempts,
        )
