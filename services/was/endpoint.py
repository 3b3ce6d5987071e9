"""The model endpoint, reached only through SageMaker Runtime's `InvokeEndpoint`
(`services.was.sagemaker_runtime`: aiohttp, signed with botocore's SigV4).

The image goes as its own bytes with its content type (never a float tensor in JSON);
the answer is a `shared.contracts.prediction.Prediction`. The request id rides in the
custom attributes (`request_id=`), the only header SageMaker forwards to the container,
so the model server logs under the same id.

Failure handling (the transport never retries, so this policy is the only one):

    connection refused or reset / connect timeout / 5xx /     retried (full jitter),
    throttling (also a 400 ThrottlingException) /             count against the breaker
    an answer that broke off
    no such endpoint (404, ValidationError "... not found")   not retried, counts -> 503
    read timeout                                              not retried (a slow model
                                                              stays slow), counts -> 504
    the model refused the image (400/413/415/422, or a        not retried, not a failure
    ModelError whose original status is 4xx)                  -> 400/413/415
    breaker open                                              -> 503 at once, Retry-After

After the last attempt: throttling/unavailable/unreachable -> 503 (Retry-After),
other server errors and unreadable answers -> 502, timeouts -> 504. An answer larger
than SageMaker's 6 MB limit is a failure (502), not retried.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

import structlog
from pydantic import ValidationError

from services.was.sagemaker_runtime import (
    AnswerTooLarge,
    EndpointReadTimeout,
    EndpointUnreachable,
    ErrorAnswer,
    RuntimeCallError,
)
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

__all__ = ["EndpointClient", "EndpointResult", "Runtime"]

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
# SageMaker's answer for a missing endpoint (the code botocore documents, and the
# spelling other AWS services use).
_VALIDATION_CODES = frozenset({"ValidationError", "ValidationException"})
# Throttled or not ready, from the endpoint or the container behind it: retryable.
_BUSY_STATUSES = frozenset({HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE})


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


def _client_refusal(status: int, message: str) -> KkotError | None:
    """The model's 4xx verdict on the image, as our own 4xx; None if not such a verdict."""
    if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return PayloadTooLarge("the model endpoint refused the image as too large")
    if status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE:
        return UnsupportedMediaType("the model endpoint cannot read this image format")
    if status in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNPROCESSABLE_ENTITY):
        return InvalidImage(
            f"the model could not read this image{': ' + message if message else ''}"
        )
    return None


def _classify_error_answer(answer: ErrorAnswer) -> Exception:
    """Sort the Runtime's error answer into retryable / failure / refusal."""
    status, code, message = answer.status, answer.code, answer.message[:200]
    if code == "ModelError":
        return _classify_model_error(answer.original_status or 0, message)
    if status == HTTPStatus.NOT_FOUND or (
        code in _VALIDATION_CODES and "not found" in message.lower()
    ):
        return _Failure(ServiceUnavailable("the model endpoint does not exist (yet)"))
    # Before the status: AWS throttles with a 400 ThrottlingException, not the image's fault.
    if status in _BUSY_STATUSES or code in _UNAVAILABLE_CODES:
        return _Transient(ServiceUnavailable("the model endpoint is busy or unavailable"))
    refusal = _client_refusal(status, message)
    if refusal is not None:
        return refusal
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR or code in _RETRYABLE_CODES:
        return _Transient(UpstreamError(f"the model endpoint failed (status {status})"))
    return _Failure(UpstreamError(f"unexpected answer from the model endpoint ({code})"))


def _classify_call_error(exc: RuntimeCallError) -> Exception:
    """Sort a failed call (`sagemaker_runtime`'s errors) into retryable / failure / refusal."""
    if isinstance(exc, ErrorAnswer):
        return _classify_error_answer(exc)
    if isinstance(exc, EndpointReadTimeout):
        return _Failure(UpstreamTimeout("the model endpoint did not answer in time"))
    if isinstance(exc, EndpointUnreachable):
        return _Transient(ServiceUnavailable("the model endpoint is unreachable"))
    if isinstance(exc, AnswerTooLarge):
        return _Failure(UpstreamError("the model endpoint answered more than it may"))
    # A broken-off answer: worth another try.
    return _Transient(UpstreamError(f"calling the model endpoint failed: {exc}"))


def _classify_model_error(original_status: int, message: str) -> Exception:
    """A ModelError: the container's own answer (`original_status`, 0 when there was
    none) sorted into refusal / retryable / failure."""
    refusal = _client_refusal(original_status, message)
    if refusal is not None:
        return refusal
    if original_status in _BUSY_STATUSES:
        # The model server is loading, swapping or saturated: worth another try.
        return _Transient(ServiceUnavailable("the model is not ready; try again shortly"))
    if original_status in (0, HTTPStatus.GATEWAY_TIMEOUT) and "timed out" in message.lower():
        # The endpoint's 60 s invocation limit: a slow model stays slow, no retry.
        return _Failure(UpstreamTimeout("the model endpoint did not answer in time"))
    return _Failure(UpstreamError(f"the model failed (status {original_status or '?'})"))


class Runtime(Protocol):
    """What EndpointClient calls: `sagemaker_runtime.SageMakerRuntime.invoke`."""

    async def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str,
        accept: str,
        custom_attributes: str = "",
    ) -> bytes: ...


class EndpointClient:
    """Invoke one endpoint with bounded retries under a circuit breaker."""

    def __init__(
        self,
        runtime: Runtime,
        endpoint_name: str,
        *,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
        top_k: int = 5,
    ) -> None:
        self._runtime = runtime
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
        """One `InvokeEndpoint`; failures sorted into retryable / failure / refusal."""
        if len(body) > SAGEMAKER_MAX_PAYLOAD_BYTES:
            # A bug upstream (uploads are re-encoded first); never send what AWS refuses.
            raise PayloadTooLarge("the image is larger than the model endpoint accepts")
        try:
            return await self._runtime.invoke(
                self.endpoint_name, body, content_type, JSON_CONTENT_TYPE, attributes
            )
        except RuntimeCallError as exc:
            raise _classify_call_error(exc) from exc

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
