"""The services' event loop is uvloop (shared/event_loop.py)."""

from __future__ import annotations

import asyncio

import uvloop

from shared.event_loop import new_event_loop, run


def test_run_drives_a_coroutine_on_uvloop() -> None:
    async def which() -> type[asyncio.AbstractEventLoop]:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert run(which()) is uvloop.Loop


def test_new_event_loop_is_uvloop() -> None:
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
