"""SageMaker Runtime's `InvokeEndpoint`, sent over the app's aiohttp session and signed
with botocore's own SigV4 signer.

Why not aiobotocore's client: under load its per-call machinery (the hierarchical event
emitter, request building, user-agent rebuilding) cost more of WAS's event loop than the
HTTP exchange itself. Only what decides correctness is botocore's: the endpoint URL
(resolved once at start by a real client: region, `AWS_ENDPOINT_URL*`, FIPS, dual-stack),
the credential chain (refreshed when temporary credentials expire: ECS task roles
rotate) and the SigV4 signature. The request is the one botocore sends: `POST
/endpoints/{quoted name}/invocations` with Content-Type, Accept,
X-Amzn-SageMaker-Custom-Attributes, X-Amz-Date (+ X-Amz-Security-Token) signed; no
X-Amz-Content-SHA256 (botocore adds it only for unsigned payloads; the body is signed).
To the local model server (`kkot run`) the same request goes unsigned (`connect_runtime`).

Errors, all `RuntimeCallError`:

    EndpointUnreachable    nothing answered: refused, reset, connect timeout, closed
    EndpointReadTimeout    connected, but no answer within the read timeout
    BrokenAnswer           the answer broke off midway
    AnswerTooLarge         the answer is larger than SageMaker's 6 MB response limit
    ErrorAnswer            an HTTP error answer, parsed as botocore parses restJson:
                           status, code, message (+ OriginalStatusCode and
                           OriginalMessage of a ModelError)
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Awaitable
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, NamedTuple, Protocol
from urllib.parse import quote

import aiohttp
import botocore
from aiobotocore.session import AioSession
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from yarl import URL

from shared.aws_config import AwsClientConfig
from shared.contracts.prediction import SAGEMAKER_MAX_PAYLOAD_BYTES

__all__ = [
    "MAX_ANSWER_BYTES",
    "AnswerTooLarge",
    "BrokenAnswer",
    "CredentialSource",
    "EndpointReadTimeout",
    "EndpointUnreachable",
    "ErrorAnswer",
    "NoCredentials",
    "RuntimeCallError",
    "SageMakerRuntime",
    "connect_runtime",
    "resolve_endpoint_url",
]

SIGNING_NAME: Final = "sagemaker"  # the service's signingName (runtime.sagemaker endpoints)
# SageMaker's own limit on a real-time endpoint's answer: more is a runaway endpoint.
MAX_ANSWER_BYTES: Final = SAGEMAKER_MAX_PAYLOAD_BYTES
# An error answer is a small JSON document; a larger one is not read (mapped by status).
_MAX_ERROR_BYTES: Final = 64 * 1024
_CUSTOM_ATTRIBUTES_HEADER: Final = "X-Amzn-SageMaker-Custom-Attributes"


class NoCredentials(Exception):
    """At start: the credential chain found nothing to sign with."""


class RuntimeCallError(Exception):
    """An `invoke` that brought back no answer body."""


class EndpointUnreachable(RuntimeCallError):
    """Nothing answered: connection refused or reset, connect timeout, closed early."""


class EndpointReadTimeout(RuntimeCallError):
    """Connected, but the endpoint did not answer within the read timeout."""


class BrokenAnswer(RuntimeCallError):
    """The answer broke off before its end."""


class AnswerTooLarge(RuntimeCallError):
    """The answer is larger than `MAX_ANSWER_BYTES`."""


class ErrorAnswer(RuntimeCallError):
    """An HTTP error answer; `code` as botocore derives it (the status when none)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        original_status: int | None = None,
        original_message: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.original_status = original_status
        self.original_message = original_message


class CredentialSource(Protocol):
    """aiobotocore's credentials: `AioCredentials` or `AioRefreshableCredentials`, whose
    `get_frozen_credentials()` refreshes them first when they are about to expire."""

    def get_frozen_credentials(self) -> Awaitable[ReadOnlyCredentials]: ...


class _Target(NamedTuple):
    url: URL  # already quoted: aiohttp must send the path exactly as signed
    signed_url: str


def _user_agent() -> str:
    try:
        kkot = version("kkot")
    except PackageNotFoundError:  # run from a source tree that was not installed
        kkot = "0"
    return f"kkot-was/{kkot} aiohttp/{aiohttp.__version__} botocore/{botocore.__version__}"


USER_AGENT: Final = _user_agent()


class SageMakerRuntime:
    """`invoke` on the SageMaker Runtime at `endpoint_url` (no trailing slash), signed
    for `region` with `credentials` (None: unsigned, for the local model server), over
    `http` with these timeouts."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        endpoint_url: str,
        region: str,
        credentials: CredentialSource | None,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.http = http
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self.credentials = credentials
        self.read_timeout_s = read_timeout_s
        self.max_answer_bytes = max_answer_bytes
        # Per socket operation, as botocore's connect/read timeouts (no total: a body
        # that keeps flowing is bounded by its size instead).
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._targets: dict[str, _Target] = {}

    def _target(self, endpoint_name: str) -> _Target:
        target = self._targets.get(endpoint_name)
        if target is None:
            url = f"{self.endpoint_url}/endpoints/{quote(endpoint_name, safe='')}/invocations"
            target = _Target(URL(url, encoded=True), url)
            self._targets[endpoint_name] = target
        return target

    async def _signed_headers(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> dict[str, str]:
        if self.credentials is None:
            signed = dict(headers)
        else:
            frozen = await self.credentials.get_frozen_credentials()
            request = AWSRequest(method="POST", url=url, data=body, headers=headers)
            SigV4Auth(frozen, SIGNING_NAME, self.region).add_auth(request)
            signed = dict(request.headers.items())
        # Unsigned, as botocore leaves them: SigV4 excludes User-Agent by rule.
        signed["User-Agent"] = USER_AGENT
        signed["Accept-Encoding"] = "identity"
        return signed

    async def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str,
        accept: str,
        custom_attributes: str = "",
    ) -> bytes:
        """`InvokeEndpoint`: the answer's body, or a `RuntimeCallError`."""
        target = self._target(endpoint_name)
        headers = {"Content-Type": content_type, "Accept": accept}
        if custom_attributes:
            headers[_CUSTOM_ATTRIBUTES_HEADER] = custom_attributes
        signed = await self._signed_headers(target.signed_url, body, headers)
        try:
            async with self.http.post(
                target.url, data=body, headers=signed, timeout=self._timeout
            ) as response:
                if response.status >= HTTPStatus.MULTIPLE_CHOICES:
                    raise await _error_answer(response)
                return await _read_bounded(response, self.max_answer_bytes)
        # The order matters: both timeouts are ClientConnectionErrors and TimeoutErrors.
        except aiohttp.ConnectionTimeoutError as exc:
            raise EndpointUnreachable(f"connect timeout: {exc}") from exc
        except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
            raise EndpointReadTimeout(f"read timeout after {self.read_timeout_s:g} s") from exc
        except aiohttp.ClientPayloadError as exc:
            raise BrokenAnswer(f"the answer broke off: {exc}") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise EndpointUnreachable("the endpoint closed the connection") from exc
        except (aiohttp.ClientConnectorError, aiohttp.ClientOSError) as exc:
            raise EndpointUnreachable(f"cannot connect: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise BrokenAnswer(f"calling the endpoint failed: {exc}") from exc


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, refused once it passes `limit` (never read whole into memory first)."""
    length = response.content_length
    if length is not None:
        # aiohttp reads exactly Content-Length bytes, never more.
        if length > limit:
            response.close()  # the rest stays unread: the connection cannot be reused
            raise AnswerTooLarge(f"the answer is {length:,} bytes, over {limit:,}")
        return await response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            response.close()
            raise AnswerTooLarge(f"the answer passed {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _error_answer(response: aiohttp.ClientResponse) -> ErrorAnswer:
    """An error answer parsed as botocore's restJson parser does."""
    try:
        raw = await _read_bounded(response, _MAX_ERROR_BYTES)
    except AnswerTooLarge:
        raw = b""
    status = response.status
    stripped = raw.strip()
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR and (
        not stripped or stripped.startswith(b"<html>")
    ):
        # A proxy's or load balancer's page, not the service's: botocore reads no code.
        return ErrorAnswer(status, str(status), http.client.responses.get(status, ""))
    body = _json_object(raw)
    header_code = response.headers.get("x-amzn-ErrorType")
    code: Any = header_code or body.get("code") or body.get("Code") or body.get("__type")
    code = str(code).split(":", 1)[0].rsplit("#", 1)[-1] if code else str(status)
    message = body.get("message", body.get("Message", ""))
    original_status = body.get("OriginalStatusCode")
    original_message = body.get("OriginalMessage")
    return ErrorAnswer(
        status,
        code,
        str(message or ""),
        original_status=original_status if isinstance(original_status, int) else None,
        original_message=original_message if isinstance(original_message, str) else None,
    )


def _json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; a text body becomes its `message` (as botocore does)."""
    if not raw:
        return {}
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"message": text}
    return parsed if isinstance(parsed, dict) else {}


async def resolve_endpoint_url(session: AioSession, region: str, endpoint_url: str | None) -> str:
    """The Runtime's base URL as botocore resolves it (`endpoint_url` wins when given),
    read from a client made once for that and closed again."""
    config = AwsClientConfig(attempts=1).for_aioboto3()
    async with session.create_client(
        "sagemaker-runtime", region_name=region, endpoint_url=endpoint_url, config=config
    ) as client:
        resolved: str = client.meta.endpoint_url
    return resolved.rstrip("/")


async def connect_runtime(
    http: aiohttp.ClientSession,
    *,
    region: str,
    local_endpoint_url: str | None,
    connect_timeout_s: float,
    read_timeout_s: float,
) -> SageMakerRuntime:
    """A `SageMakerRuntime` over `http`: the local model server's Runtime path, unsigned,
    or the real SageMaker Runtime with the credential chain (asked once here; temporary
    credentials refresh themselves when about to expire).

    Unsigned locally, as the SageMaker SDK's own local mode calls a local container:
    there are no credentials to sign with and nobody who checks. Signing there with
    made-up keys cost ~80 µs of the event loop per photo (botocore insisted on it while
    WAS used its client); the AWS path's signature is checked in
    tests/was/test_sagemaker_runtime.py against a server that verifies it."""
    session = AioSession()
    credentials: CredentialSource | None = None
    if not local_endpoint_url:
        credentials = await session.get_credentials()
        if credentials is None:
            raise NoCredentials("no AWS credentials found to sign SageMaker Runtime calls")
    return SageMakerRuntime(
        http,
        endpoint_url=await resolve_endpoint_url(session, region, local_endpoint_url),
        region=region,
        credentials=credentials,
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s,
    )
