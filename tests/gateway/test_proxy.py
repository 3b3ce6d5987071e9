"""The gateway in front of a small real upstream on a real socket: streaming, header
handling, limits, keys and upstream failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

Factory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


async def _echo(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "headers": {k: v for k, v in request.headers.items()},
            "length": len(body),
            "chunked": request.headers.get("Transfer-Encoding") == "chunked",
        },
        headers={
            "Connection": "X-Hop",
            "X-Hop": "secret",
            "Keep-Alive": "timeout=9",
            "X-End": "kept",
        },
    )


async def _sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: one\n\n")
    # The second event only comes after the client saw the first: proves no buffering.
    await request.app[_GO].wait()
    await response.write(b"data: two\n\n")
    return response


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


_GO = web.AppKey("go", asyncio.Event)


def _upstream_app() -> web.Application:
    app = web.Application()
    app[_GO] = asyncio.Event()
    app.router.add_get("/events", _sse)
    app.router.add_get("/api/slow", _slow)
    app.router.add_route("*", "/{tail:.*}", _echo)
    return app


@pytest.fixture
async def upstream() -> AsyncIterator[TestServer]:
    server = TestServer(_upstream_app(), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


def _settings(upstream: TestServer, **overrides: object) -> GatewaySettings:
    base = str(upstream.make_url("")).rstrip("/")
    values: dict[str, object] = {"was_url": base, "web_url": base, **overrides}
    return GatewaySettings.model_validate(values)


async def _client(settings: GatewaySettings) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(settings), host="127.0.0.1")
    )
    await client.start_server()
    return client


@pytest.fixture
async def gateway(upstream: TestServer) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    client = await _client(_settings(upstream))
    yield client
    await client.close()


async def test_forwards_request_id_and_forwarded_headers(gateway: TestClient) -> None:  # type: ignore[type-arg]
    resp = await gateway.get(
        "/api/v1/x?q=1",
        headers={"X-Request-ID": "abc-123", "X-Forwarded-For": "6.6.6.6", "TE": "trailers"},
    )
    seen = await resp.json()
    assert resp.headers["X-Request-ID"] == "abc-123"
    assert seen["path"] == "/api/v1/x?q=1"
    assert seen["headers"]["X-Request-ID"] == "abc-123"
    # The gateway is the edge: a client-made X-Forwarded-For is replaced, not trusted.
    assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert seen["headers"]["X-Forwarded-Proto"] == "http"
    assert seen["headers"]["X-Forwarded-Host"].startswith("127.0.0.1:")
    assert "TE" not in seen["headers"]


async def test_hop_by_hop_response_headers_are_removed(gateway: TestClient) -> None:  # type: ignore[type-arg]
    resp = await gateway.get("/page")
    assert resp.headers["X-End"] == "kept"
    assert "X-Hop" not in resp.headers
    assert "Keep-Alive" not in resp.headers


async def test_sse_is_streamed_without_buffering(
    gateway: TestClient,  # type: ignore[type-arg]
    upstream: TestServer,
) -> None:
    resp = await gateway.get("/events")
    first = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), timeout=5)
    assert first == b"data: one\n\n"
    upstream.app[_GO].set()
    second = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), timeout=5)
    assert second == b"data: two\n\n"
    resp.close()


async def test_body_over_limit_by_content_length_is_413(upstream: TestServer) -> None:
    client = await _client(_settings(upstream, max_body_bytes=1000))
    try:
        resp = await client.post("/api/v1/classifications", data=b"x" * 1001)
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "payload_too_large"
        ok = await client.post("/api/v1/classifications", data=b"x" * 1000)
        assert (await ok.json())["length"] == 1000
    finally:
        await client.close()


async def test_chunked_body_over_limit_is_413(upstream: TestServer) -> None:
    client = await _client(_settings(upstream, max_body_bytes=100_000))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"y" * 10_000

    async def small() -> AsyncIterator[bytes]:
        yield b"z" * 500

    try:
        resp = await client.post("/api/v1/classifications", data=chunks())
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "payload_too_large"
        ok = await client.post("/api/v1/classifications", data=small())
        seen = await ok.json()
        assert seen["length"] == 500
        assert seen["chunked"] is True
    finally:
        await client.close()


async def test_rate_limit_answers_429_with_retry_after(upstream: TestServer) -> None:
    client = await _client(_settings(upstream, rate_capacity=3, rate_refill_per_s=0.5))
    try:
        statuses = [(await client.get("/page")).status for _ in range(3)]
        assert statuses == [200, 200, 200]
        resp = await client.get("/page")
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) >= 1
        assert (await resp.json())["error"]["code"] == "rate_limited"
        assert (await client.get("/health")).status == 200  # never limited
    finally:
        await client.close()


async def test_api_keys_401_403_and_accepted(upstream: TestServer) -> None:
    client = await _client(_settings(upstream, api_keys=[SecretStr("s3cret-key")]))
    try:
        assert (await client.get("/api/v1/labels")).status == 401
        wrong = await client.get("/api/v1/labels", headers={"X-API-Key": "nope"})
        assert wrong.status == 403
        assert (await wrong.json())["error"]["code"] == "forbidden"
        ok = await client.get("/api/v1/labels", headers={"X-API-Key": "s3cret-key"})
        assert ok.status == 200
        bearer = await client.get("/api/v1/labels", headers={"Authorization": "Bearer s3cret-key"})
        assert bearer.status == 200
        # Pages read records too: with keys on they need a key (or a session) as well.
        assert (await client.get("/history")).status == 401
        assert (await client.get("/history", headers={"X-API-Key": "s3cret-key"})).status == 200
    finally:
        await client.close()


async def test_upstream_down_is_502_json(free_port: int) -> None:
    settings = GatewaySettings(
        was_url=f"http://127.0.0.1:{free_port}", web_url=f"http://127.0.0.1:{free_port}"
    )
    client = await _client(settings)
    try:
        resp = await client.get("/api/v1/labels")
        assert resp.status == 502
        body = await resp.json()
        assert body["error"]["code"] == "upstream_error"
        assert body["error"]["request_id"] == resp.headers["X-Request-ID"]
    finally:
        await client.close()


async def test_upstream_timeout_is_504_json(upstream: TestServer) -> None:
    client = await _client(_settings(upstream, upstream_timeout_s=0.3))
    try:
        resp = await client.get("/api/slow")
        assert resp.status == 504
        assert (await resp.json())["error"]["code"] == "upstream_timeout"
    finally:
        await client.close()


async def test_api_key_is_never_logged(upstream: TestServer) -> None:
    import structlog

    client = await _client(_settings(upstream, api_keys=[SecretStr("very-secret-value")]))
    try:
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as logs:
            await client.get("/api/v1/x", headers={"X-API-Key": "very-secret-value"})
            await client.get("/api/v1/x", headers={"X-API-Key": "wrong-secret-value"})
        assert logs, "the access line was written"
        assert "secret-value" not in json.dumps(logs, default=str)
        assert any(line.get("upstream") == "was" for line in logs)
    finally:
        await client.close()


async def test_request_headers_reach_upstream_intact(gateway: TestClient) -> None:  # type: ignore[type-arg]
    resp = await gateway.post(
        "/classify/image", data=b"abc", headers={"Content-Type": "image/jpeg"}
    )
    seen = await resp.json()
    assert seen["headers"]["Content-Type"] == "image/jpeg"
    assert seen["length"] == 3
    assert isinstance(aiohttp.__version__, str)


async def test_expect_continue_is_answered_at_the_edge(gateway: TestClient) -> None:  # type: ignore[type-arg]
    resp = await gateway.post("/api/v1/x", data=b"abcdef", expect100=True)
    seen = await resp.json()
    assert seen["length"] == 6
    assert "Expect" not in seen["headers"]
