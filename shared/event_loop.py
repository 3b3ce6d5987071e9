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

__all__ = ["new_event_loop", "run"]

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh uvloop event loop (for `aiohttp.web.run_app(..., loop=...)`)."""
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a uvloop event loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
