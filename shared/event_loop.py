"""The event loop every long-running service runs on: uvloop (libuv), not asyncio's
pure-Python selector loop.

Why: under load the services spend most of their own CPU in the event loop's
machinery (socket reads and writes, callbacks, timers) rather than in kkot's code;
uvloop does that work in C. Profiled at concurrency 32 through the gateway (README
section "bench"), it is the largest single saving of CPU per photo. Command-line tools
that run one coroutine and exit keep `asyncio.run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop
from aiohttp import web

from shared.settings import ServiceSettings

__all__ = ["new_event_loop", "run", "serve"]

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh uvloop event loop (for `aiohttp.web.run_app(..., loop=...)`)."""
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a uvloop event loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def serve(app: web.Application, settings: ServiceSettings) -> None:
    """Serve `app` on `settings.host`:`settings.port` on uvloop until SIGINT/SIGTERM
    (what each service's `python -m` entry point does). aiohttp's access log and start
    banner are off: the request-context middleware writes the one request line, and
    every other line is structured."""
    web.run_app(
        app,
        loop=new_event_loop(),
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=None,
    )
