"""A real HTTP server that answers every request with a retryable 503 and counts them:
how the tests see how many calls an AWS client really makes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestServer

__all__ = ["Counting", "counting_server"]


class Counting:
    """How many requests the server got (and each one's Content-Type), its base URL."""

    def __init__(self) -> None:
        self.calls = 0
        self.content_types: list[str] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.content_types.append(request.content_type)
        await request.read()
        return web.Response(status=503, text='{"message": "busy"}')


@contextlib.asynccontextmanager
async def counting_server() -> AsyncIterator[Counting]:
    """Serve on a free 127.0.0.1 port for the block."""
    counting = Counting()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", counting.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        counting.url = str(server.make_url("")).rstrip("/")
        yield counting
