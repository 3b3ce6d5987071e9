"""A real HTTP server standing in for the SageMaker Runtime: it records every request
it gets (method, raw path, headers, body) and answers with what the test scripts, so
the tests see both what WAS sends and how it reads what SageMaker answers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

__all__ = ["Received", "RuntimeServer", "runtime_server", "sagemaker_error"]


@dataclass(frozen=True)
class Received:
    """One request as it arrived on the socket."""

    method: str
    raw_path: str
    headers: CIMultiDictProxy[str]
    body: bytes


Answer = Callable[[Received], Awaitable[web.StreamResponse]]


@dataclass
class RuntimeServer:
    """Where it listens (`url`, no trailing slash) and what it received."""

    answer: Answer
    url: str = ""
    received: list[Received] = field(default_factory=list)

    def calls_with(self, content_type: str) -> int:
        """How many requests had this Content-Type (WAS also sends JSON describe calls)."""
        return sum(1 for r in self.received if r.headers.get("Content-Type") == content_type)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        received = Received(request.method, request.raw_path, request.headers, await request.read())
        self.received.append(received)
        return await self.answer(received)


def sagemaker_error(status: int, error_type: str | None, body: Any) -> web.Response:
    """An error answer shaped as SageMaker Runtime's restJson ones."""
    headers = {"x-amzn-ErrorType": error_type} if error_type else {}
    text = body if isinstance(body, str) else json.dumps(body)
    return web.Response(status=status, text=text, headers=headers, content_type="application/json")


@contextlib.asynccontextmanager
async def runtime_server(answer: Answer) -> AsyncIterator[RuntimeServer]:
    """Serve on a free 127.0.0.1 port for the block."""
    server = RuntimeServer(answer)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", server.handle)
    async with TestServer(app, host="127.0.0.1") as test_server:
        server.url = str(test_server.make_url("")).rstrip("/")
        yield server
