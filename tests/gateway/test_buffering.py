"""Bodies up to `proxy_buffer_bytes` are read whole before they are sent on: a slow
upload holds no upstream slot, a bounded answer the upstream breaks off is still an
honest 502, and what is larger (or has no body) passes as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from http import HTTPStatus

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

_SEEN = web.AppKey("seen", list[tuple[str, int]])
_BIG = bytes(range(256)) * 64  # 16 KiB


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    request.app[_SEEN].append((request.path, len(body)))
    return web.Response(body=body, content_type="application/octet-stream")


async def _big(request: web.Request) -> web.Response:
    return web.Response(body=_BIG, content_type="application/octet-stream")


async def _broken(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = 1000
    await response.prepare(request)
    await response.write(b'{"partial": ')
    assert request.transport is not None
    request.transport.close()
    return response


@pytest.fixture
async def upstream() -> AsyncIterator[TestServer]:
    app = web.Application()
    app[_SEEN] = []
    app.router.add_get("/api/broken", _broken)
    app.router.add_get("/api/big", _big)
    app.router.add_route("*", "/{tail:.*}", _echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def gateway_factory() -> AsyncIterator[list[TestServer]]:
    started: list[TestServer] = []
    yield started
    for server in started:
        await server.close()


async def _gateway(upstream: TestServer, started: list[TestServer], **overrides: object) -> str:
    base = str(upstream.make_url("")).rstrip("/")
    settings = GatewaySettings.model_validate(
        {"was_url": base, "web_url": base, "rate_capacity": 0, **overrides}
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    started.append(server)
    return str(server.make_url("")).rstrip("/")


async def test_a_slow_upload_holds_no_upstream_slot(
    upstream: TestServer, gateway_factory: list[TestServer]
) -> None:
    # One slot towards WAS: before buffering, the trickling upload held it and the
    # second request waited for it (or timed out with a 503).
    base = await _gateway(upstream, gateway_factory, was_pool_limit=1, pool_wait_timeout_s=2)
    release = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b"a" * 50
        await release.wait()
        yield b"b" * 50

    async with aiohttp.ClientSession() as session:
        slow = asyncio.create_task(
            session.post(
                base + "/api/slow-upload", data=trickle(), headers={"Content-Length": "100"}
            )
        )
        await asyncio.sleep(0.2)  # the first half is at the gateway
        async with session.post(base + "/api/quick", data=b"q" * 10) as quick:
            assert quick.status == HTTPStatus.OK
            assert await quick.read() == b"q" * 10
        assert upstream.app[_SEEN] == [("/api/quick", 10)]  # the slow one not sent yet
        release.set()
        async with await slow as answer:
            assert answer.status == HTTPStatus.OK
            assert await answer.read() == b"a" * 50 + b"b" * 50
    assert upstream.app[_SEEN][-1] == ("/api/slow-upload", 100)


async def test_a_bounded_answer_broken_off_is_a_502_in_the_error_shape(
    upstream: TestServer, gateway_factory: list[TestServer]
) -> None:
    base = await _gateway(upstream, gateway_factory)
    async with aiohttp.ClientSession() as session, session.get(base + "/api/broken") as answer:
        assert answer.status == HTTPStatus.BAD_GATEWAY
        body = await answer.json()
    assert body["error"]["code"] == "upstream_error"
    assert "broke off" in body["error"]["message"]
    assert "partial" not in body["error"]["message"]


@pytest.mark.parametrize("buffer", [0, 1024, 1024 * 1024])
async def test_bodies_pass_intact_whether_buffered_or_streamed(
    upstream: TestServer, gateway_factory: list[TestServer], buffer: int
) -> None:
    base = await _gateway(upstream, gateway_factory, proxy_buffer_bytes=buffer)
    async with aiohttp.ClientSession() as session:
        async with session.put(base + "/api/echo", data=_BIG) as answer:
            assert answer.status == HTTPStatus.OK
            assert answer.content_length == len(_BIG)
            assert await answer.read() == _BIG
        async with session.get(base + "/api/big") as answer:
            assert answer.headers["Content-Length"] == str(len(_BIG))
            assert await answer.read() == _BIG
        async with session.head(base + "/api/big") as answer:
            # HEAD: the length of the body a GET would get, and no body.
            assert answer.status == HTTPStatus.OK
            assert answer.headers["Content-Length"] == str(len(_BIG))
            assert await answer.read() == b""
    assert upstream.app[_SEEN][0] == ("/api/echo", len(_BIG))
