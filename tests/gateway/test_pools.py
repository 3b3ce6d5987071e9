"""Timeouts that name what they measure: waiting for a free pooled connection is a 503
"not sent" (and the upstream indeed never saw it), apart from an upstream that is slow
to answer (504); streams have their own pool, so they never take a page's slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

_SEEN = web.AppKey("seen", list[str])


def _upstream() -> web.Application:
    async def slow(request: web.Request) -> web.Response:
        request.app[_SEEN].append(request.path_qs)
        await asyncio.sleep(float(request.query.get("s", "1")))
        return web.Response(text="late")

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": connected\n\n")
        await asyncio.sleep(30)
        return response

    app = web.Application()
    app[_SEEN] = []
    app.router.add_get("/events", events)
    app.router.add_get("/api/slow", slow)
    app.router.add_get("/page", slow)
    return app


@pytest.fixture
async def upstream() -> AsyncIterator[TestServer]:
    server = TestServer(_upstream(), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def _gateway(upstream: TestServer, **overrides: object) -> TestServer:
    base = str(upstream.make_url("")).rstrip("/")
    settings = GatewaySettings.model_validate(
        {"was_url": base, "web_url": base, "rate_capacity": 0, **overrides}
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    return server


async def test_waiting_for_a_pooled_connection_is_a_503_not_an_upstream_timeout(
    upstream: TestServer,
) -> None:
    gateway = await _gateway(upstream, was_pool_limit=1, pool_wait_timeout_s=0.3)
    try:
        async with aiohttp.ClientSession() as session:
            first = asyncio.create_task(session.get(gateway.make_url("/api/slow?s=1&n=1")))
            await asyncio.sleep(0.2)
            async with session.get(gateway.make_url("/api/slow?s=0&n=2")) as second:
                assert second.status == 503
                error = (await second.json())["error"]
                assert error["code"] == "gateway_busy"
                assert "not sent" in error["message"]
                assert second.headers["Retry-After"]
            response = await first
            assert response.status == 200
            response.release()
        # The refused request never reached the upstream.
        assert upstream.app[_SEEN] == ["/api/slow?s=1&n=1"]
    finally:
        await gateway.close()


async def test_a_slow_answer_is_a_504_that_says_so(upstream: TestServer) -> None:
    gateway = await _gateway(upstream, upstream_timeout_s=0.3)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(gateway.make_url("/api/slow?s=2")) as response,
        ):
            assert response.status == 504
            assert "did not answer within 0.3 s" in (await response.json())["error"]["message"]
    finally:
        await gateway.close()


async def test_open_streams_never_take_a_pages_slot(upstream: TestServer) -> None:
    gateway = await _gateway(upstream, web_pool_limit=1, pool_wait_timeout_s=0.5)
    try:
        async with aiohttp.ClientSession() as session:
            streams = [await session.get(gateway.make_url("/events")) for _ in range(3)]
            for stream in streams:
                assert stream.status == 200
                await stream.content.readline()
            async with session.get(gateway.make_url("/page?s=0")) as page:
                assert page.status == 200
            for stream in streams:
                stream.close()
    finally:
        await gateway.close()
