"""WAS's SageMaker Runtime transport against real servers: the request is the one
botocore would send and its SigV4 signature verifies (recomputed by botocore from what
arrived on the socket), expired temporary credentials are refreshed before signing,
error answers read exactly as botocore's own client reads them, answers are bounded,
and network failures are told apart (unreachable / read timeout / broken answer)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aioboto3
import aiohttp
import pytest
from aiobotocore.credentials import AioCredentials, AioRefreshableCredentials
from aiobotocore.session import AioSession
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from services.was.sagemaker_runtime import (
    AnswerTooLarge,
    BrokenAnswer,
    CredentialSource,
    EndpointReadTimeout,
    EndpointUnreachable,
    ErrorAnswer,
    SageMakerRuntime,
    connect_runtime,
    resolve_endpoint_url,
)
from shared.aws_config import AwsClientConfig
from shared.ports import free_port
from tests.was.runtime_server import Received, runtime_server, sagemaker_error

REGION = "eu-west-1"
ACCESS_KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


async def _ok(_received: Received) -> web.StreamResponse:
    return web.json_response({"label": "daisy"})


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _runtime(
    http: aiohttp.ClientSession,
    url: str,
    credentials: CredentialSource | None = None,
    **options: Any,
) -> SageMakerRuntime:
    values: dict[str, Any] = {"connect_timeout_s": 1.0, "read_timeout_s": 5.0, **options}
    return SageMakerRuntime(
        http,
        endpoint_url=url,
        region=REGION,
        credentials=credentials or AioCredentials(ACCESS_KEY, SECRET),
        **values,
    )


def _authorization(received: Received) -> dict[str, str]:
    algorithm, _, rest = received.headers["Authorization"].partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256"
    return dict(part.strip().split("=", 1) for part in rest.split(","))


def _signature_verifies(received: Received, secret: str) -> bool:
    """Recompute SigV4 with botocore from the method, URL, signed headers and body that
    arrived, as AWS does, and compare with the one sent."""
    fields = _authorization(received)
    access_key, _date, region, service, _terminator = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    request = AWSRequest(
        method=received.method,
        url=f"http://{received.headers['Host']}{received.raw_path}",
        data=received.body,
        headers={name: received.headers[name] for name in signed},
    )
    request.context["timestamp"] = received.headers["X-Amz-Date"]
    token = received.headers.get("X-Amz-Security-Token")
    auth = SigV4Auth(Credentials(access_key, secret, token), service, region)
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    expected = auth.signature(string_to_sign, request)
    return hmac.compare_digest(expected, fields["Signature"])


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLE//token=="])
async def test_the_call_is_botocores_request_with_a_signature_that_verifies(
    http: aiohttp.ClientSession, token: str | None
) -> None:
    async with runtime_server(_ok) as server:
        runtime = _runtime(http, server.url, AioCredentials(ACCESS_KEY, SECRET, token))
        body = b"\xff\xd8 not really a jpeg"
        answer = await runtime.invoke(
            "kkot-flowers", body, "image/jpeg", "application/json", "top_k=5,request_id=r-1"
        )
    assert json.loads(answer) == {"label": "daisy"}
    [received] = server.received
    assert received.method == "POST"
    assert received.raw_path == "/endpoints/kkot-flowers/invocations"
    assert received.body == body
    headers = received.headers
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Accept"] == "application/json"
    assert headers["X-Amzn-SageMaker-Custom-Attributes"] == "top_k=5,request_id=r-1"
    assert headers["User-Agent"].startswith("kkot-was/")
    assert "X-Amz-Content-SHA256" not in headers  # the payload itself is signed
    assert headers.get("X-Amz-Security-Token") == token

    fields = _authorization(received)
    assert fields["Credential"].split("/")[0] == ACCESS_KEY
    assert fields["Credential"].split("/")[2:] == [REGION, "sagemaker", "aws4_request"]
    signed = set(fields["SignedHeaders"].split(";"))
    expected = {"accept", "content-type", "host", "x-amz-date"}
    expected |= {"x-amzn-sagemaker-custom-attributes"}
    assert signed == expected | ({"x-amz-security-token"} if token else set())
    assert _signature_verifies(received, SECRET)
    assert not _signature_verifies(received, SECRET + "x")  # the check can fail


async def test_the_endpoint_name_is_quoted_in_the_path_and_still_signed(
    http: aiohttp.ClientSession,
) -> None:
    async with runtime_server(_ok) as server:
        await _runtime(http, server.url).invoke("a b/c", b"{}", "application/json", "*/*")
    [received] = server.received
    assert received.raw_path == "/endpoints/a%20b%2Fc/invocations"
    assert "X-Amzn-SageMaker-Custom-Attributes" not in received.headers
    assert _signature_verifies(received, SECRET)


async def test_the_local_model_server_gets_the_same_request_unsigned(
    http: aiohttp.ClientSession,
) -> None:
    async with runtime_server(_ok) as server:
        runtime = await connect_runtime(
            http,
            region=REGION,
            local_endpoint_url=server.url,
            connect_timeout_s=1.0,
            read_timeout_s=5.0,
        )
        await runtime.invoke(
            "kkot-flowers", b"\xff\xd8", "image/jpeg", "application/json", "top_k=5"
        )
    [received] = server.received
    assert received.raw_path == "/endpoints/kkot-flowers/invocations"
    assert received.headers["Content-Type"] == "image/jpeg"
    assert received.headers["X-Amzn-SageMaker-Custom-Attributes"] == "top_k=5"
    assert not {"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} & set(received.headers)


async def test_expired_temporary_credentials_are_refreshed_before_signing(
    http: aiohttp.ClientSession,
) -> None:
    refreshes: list[int] = []

    def metadata(number: int, expires_in: timedelta) -> dict[str, str]:
        return {
            "access_key": f"ASIA{number}",
            "secret_key": f"secret-{number}",
            "token": f"token-{number}",
            "expiry_time": (datetime.now(UTC) + expires_in).isoformat(),
        }

    async def refresh() -> dict[str, str]:
        refreshes.append(len(refreshes) + 1)
        return metadata(len(refreshes), timedelta(hours=1))

    # Expired already, as a rotated ECS task role's would be.
    credentials = AioRefreshableCredentials.create_from_metadata(
        metadata(0, -timedelta(minutes=5)), refresh, "test"
    )
    async with runtime_server(_ok) as server:
        runtime = _runtime(http, server.url, credentials)
        for _ in range(3):
            await runtime.invoke("kkot", b"x", "image/jpeg", "application/json")
    assert refreshes == [1]  # once, then the fresh ones are reused
    for received in server.received:
        assert _authorization(received)["Credential"].startswith("ASIA1/")
        assert received.headers["X-Amz-Security-Token"] == "token-1"
        assert _signature_verifies(received, "secret-1")


async def test_the_endpoint_url_is_resolved_as_botocore_resolves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_USE_FIPS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert (
        await resolve_endpoint_url(AioSession(), "eu-west-1", None)
        == "https://runtime.sagemaker.eu-west-1.amazonaws.com"
    )
    assert (
        await resolve_endpoint_url(AioSession(), "eu-west-1", "http://127.0.0.1:9/")
        == "http://127.0.0.1:9"
    )
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert (
        await resolve_endpoint_url(AioSession(), "us-east-1", None)
        == "https://runtime-fips.sagemaker.us-east-1.amazonaws.com"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7/")
    assert await resolve_endpoint_url(AioSession(), "us-east-1", None) == "http://127.0.0.1:7"


# (status, x-amzn-ErrorType, body) as SageMaker and its container answer them.
ERROR_ANSWERS = [
    (
        424,
        "ModelError",
        {
            "Message": 'Received client error (400) from primary with message "bad". ',
            "OriginalStatusCode": 400,
            "OriginalMessage": "bad",
            "LogStreamArn": "arn:aws:logs:eu-west-1:1:log-group:x",
        },
    ),
    (400, "ThrottlingException:http://internal.amazon.com/", {"message": "Rate exceeded"}),
    (400, None, {"__type": "com.amazon.coral#ValidationError", "Message": "Endpoint x not found."}),
    (400, None, {"code": "ValidationException", "message": "bad header"}),
    (503, "ServiceUnavailable", {}),
    (500, None, "<html>Internal Server Error</html>"),
    (502, None, ""),
    (503, "ServiceUnavailable", "<html><body>Service Unavailable</body></html>"),
    (413, None, "request entity too large"),
]


async def _botocores_reading(url: str) -> ClientError:
    session = aioboto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET)
    config = AwsClientConfig(attempts=1).for_aioboto3()
    async with session.client(
        "sagemaker-runtime", region_name=REGION, endpoint_url=url, config=config
    ) as client:
        with pytest.raises(ClientError) as raised:
            await client.invoke_endpoint(EndpointName="kkot", Body=b"x", ContentType="image/jpeg")
    return raised.value


@pytest.mark.parametrize(("status", "error_type", "body"), ERROR_ANSWERS)
async def test_error_answers_read_as_botocores_own_client_reads_them(
    http: aiohttp.ClientSession, status: int, error_type: str | None, body: Any
) -> None:
    async def answer(_received: Received) -> web.StreamResponse:
        return sagemaker_error(status, error_type, body)

    async with runtime_server(answer) as server:
        with pytest.raises(ErrorAnswer) as raised:
            await _runtime(http, server.url).invoke("kkot", b"x", "image/jpeg", "application/json")
        botocore_error = (await _botocores_reading(server.url)).response
    ours = raised.value
    assert ours.status == status == botocore_error["ResponseMetadata"]["HTTPStatusCode"]
    assert ours.code == botocore_error["Error"]["Code"]
    assert ours.message == botocore_error["Error"]["Message"]
    assert ours.original_status == botocore_error.get("OriginalStatusCode")
    assert ours.original_message == botocore_error.get("OriginalMessage")


async def test_an_error_body_that_is_no_json_object_still_maps_by_status(
    http: aiohttp.ClientSession,
) -> None:
    # botocore's own parser fails on this one (AttributeError): ours keeps the status.
    async def answer(_received: Received) -> web.StreamResponse:
        return sagemaker_error(400, None, [1, 2])

    async with runtime_server(answer) as server:
        with pytest.raises(ErrorAnswer) as raised:
            await _runtime(http, server.url).invoke("kkot", b"x", "image/jpeg", "application/json")
    assert (raised.value.status, raised.value.code, raised.value.message) == (400, "400", "")


@contextlib.asynccontextmanager
async def _raw_server(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A bare TCP server that misbehaves below HTTP."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def _backlogged_port() -> Iterator[int]:
    """A port whose listen queue is full: a connect there hangs (the SYN is dropped)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        with contextlib.ExitStack() as stack:
            for _ in range(3):
                filler = stack.enter_context(socket.socket())
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
            yield port


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)


async def test_answers_larger_than_the_bound_are_refused(http: aiohttp.ClientSession) -> None:
    async def sized(_received: Received) -> web.StreamResponse:
        return web.Response(body=b"x" * 2048)

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # No Content-Length to judge by: the bound must hold while reading.
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for _ in range(4):
            writer.write(b"200\r\n" + b"x" * 512 + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    call = ("kkot", b"x", "image/jpeg", "application/json")
    async with runtime_server(sized) as server:
        with pytest.raises(AnswerTooLarge):
            await _runtime(http, server.url, max_answer_bytes=1024).invoke(*call)
        assert len(await _runtime(http, server.url, max_answer_bytes=2048).invoke(*call)) == 2048
    async with _raw_server(chunked) as url:
        with pytest.raises(AnswerTooLarge):
            await _runtime(http, url, max_answer_bytes=1024).invoke(*call)
        assert len(await _runtime(http, url, max_answer_bytes=2048).invoke(*call)) == 2048


async def test_network_failures_are_told_apart(http: aiohttp.ClientSession) -> None:
    async def close_without_answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await _read_request(reader)
        writer.close()

    async def break_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"lab')
        await writer.drain()
        writer.close()

    async def slow(_received: Received) -> web.StreamResponse:
        await asyncio.sleep(3)
        return web.json_response({})

    call = ("kkot", b"x", "image/jpeg", "application/json")
    with pytest.raises(EndpointUnreachable):  # nothing listens
        await _runtime(http, f"http://127.0.0.1:{free_port()}").invoke(*call)
    with _backlogged_port() as port:
        started = time.monotonic()
        with pytest.raises(EndpointUnreachable, match="connect timeout"):
            await _runtime(
                http, f"http://127.0.0.1:{port}", connect_timeout_s=0.3, read_timeout_s=30
            ).invoke(*call)
        assert time.monotonic() - started < 10  # the connect timeout, not the read one
    async with _raw_server(close_without_answer) as url:
        with pytest.raises(EndpointUnreachable):
            await _runtime(http, url).invoke(*call)
    async with _raw_server(break_off) as url:
        with pytest.raises(BrokenAnswer):
            await _runtime(http, url).invoke(*call)
    async with runtime_server(slow) as server:
        with pytest.raises(EndpointReadTimeout):
            await _runtime(http, server.url, read_timeout_s=0.3).invoke(*call)
