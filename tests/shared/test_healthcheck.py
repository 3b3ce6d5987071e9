"""`python -m shared.healthcheck URL` (every image's HEALTHCHECK), run as the images run
it, against a real server: 0 for a 2xx answer, 1 for an error status, a closed port or
a server that does not answer in time."""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web
from aiohttp.test_utils import TestServer


async def _probe(url: str, *options: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.healthcheck", url, *options
    )
    return await asyncio.wait_for(process.wait(), timeout=60)


async def _ok(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _unavailable(_request: web.Request) -> web.Response:
    return web.json_response({"status": "starting"}, status=503)


async def _slow(_request: web.Request) -> web.Response:
    await asyncio.sleep(10)
    return web.json_response({"status": "ok"})


async def test_the_probe_follows_the_answer(free_port: int) -> None:
    app = web.Application()
    app.router.add_get("/health", _ok)
    app.router.add_get("/ping", _unavailable)
    app.router.add_get("/slow", _slow)
    async with TestServer(app, host="127.0.0.1") as server:
        base = f"http://127.0.0.1:{server.port}"
        assert await _probe(f"{base}/health") == 0
        assert await _probe(f"{base}/ping") == 1
        assert await _probe(f"{base}/missing") == 1
        assert await _probe(f"{base}/slow", "--timeout", "0.5") == 1
    assert await _probe(f"http://127.0.0.1:{free_port}/health") == 1  # refused
