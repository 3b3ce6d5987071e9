"""Servers on their own event loop in a background thread, so synchronous
property-based tests (hypothesis drives plain functions) can call them over sockets;
and a blocking raw HTTP client that sends the request target byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def in_thread(
    make: Callable[[], AbstractAsyncContextManager[T]], timeout_s: float = 180
) -> Iterator[T]:
    """Enter the async context `make()` on a loop in a thread; yield what it gives."""
    ready: list[T] = []
    failed: list[BaseException] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with make() as value:
                ready.append(value)
                started.set()
                await stop.wait()
        except BaseException as exc:
            failed.append(exc)
            started.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(timeout_s)
    if failed or not ready:
        raise RuntimeError("servers did not start") from (failed[0] if failed else None)
    try:
        yield ready[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        loop.close()


def blocking_request(
    port: int, target: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Status and body of one request whose target is sent exactly as given."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if method == "POST":
        lines.append("Content-Length: 0")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
