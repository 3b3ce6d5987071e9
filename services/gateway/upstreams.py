"""The gateway's connections to its upstreams: one pooled `ClientSession` per kind of
traffic, each with its own bounded slots, so no kind can starve another.

- `was`: the JSON API and the tutorial's endpoint;
- `web`: pages, static files, form posts;
- `streams`: live-history streams (`/events`). They stay open for minutes, so they
  never hold a connection that a page load needs, and they are limited per client
  and in total (a full house is a clear 503, never a wait).

Each timeout names what it measures: `pool_wait_timeout_s` the wait for a free slot
(503 "busy", the upstream never saw the request), `connect_timeout_s` opening a new
TCP connection to the upstream, `upstream_timeout_s` the silence while reading its
answer (504 "did not answer").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp

from services.gateway.settings import GatewaySettings
from shared.errors import ServiceUnavailable

__all__ = ["StreamClients", "Upstream", "Upstreams", "open_upstreams"]


@dataclass
class Upstream:
    """One pool: a session and the slots that bound how many requests use it at once."""

    name: str
    session: aiohttp.ClientSession
    slots: int
    wait_s: float
    _free: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._free = asyncio.Semaphore(self.slots)

    def full_message(self) -> str:
        if self.wait_s <= 0:
            return f"live updates are full ({self.slots} open streams); retry later"
        return (
            f"the gateway has no free connection to {self.name} (all {self.slots} busy "
            f"for {self.wait_s:g} s); the request was not sent"
        )

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the pool's slots; 503 when none frees up within `wait_s`."""
        try:
            if self.wait_s <= 0 and self._free.locked():
                raise TimeoutError
            await asyncio.wait_for(self._free.acquire(), self.wait_s if self.wait_s > 0 else None)
        except TimeoutError:
            raise ServiceUnavailable(
                self.full_message(), code="gateway_busy", retry_after=1
            ) from None
        try:
            yield
        finally:
            self._free.release()


class StreamClients:
    """Open live streams per client: one client cannot take every stream slot."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._open: Counter[str] = Counter()

    def __len__(self) -> int:
        return sum(self._open.values())

    @contextlib.contextmanager
    def hold(self, client: str) -> Iterator[None]:
        """Count one stream of `client` while it is open; 503 past the per-client cap."""
        if self._open[client] >= self.per_client:
            raise ServiceUnavailable(
                f"too many live streams from this client (at most {self.per_client})",
                code="too_many_streams",
                retry_after=5,
            )
        self._open[client] += 1
        try:
            yield
        finally:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]


@dataclass
class Upstreams:
    """The three pools."""

    was: Upstream
    web: Upstream
    streams: Upstream
    stream_clients: StreamClients

    def pick(self, name: str, *, stream: bool) -> Upstream:
        if stream:
            return self.streams
        return self.was if name == "was" else self.web


def _session(settings: GatewaySettings, limit: int, read_timeout_s: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=30)
    # No `connect` bound: our own slots make sure the connector never queues, so only
    # opening the socket (`sock_connect`) is timed here.
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=settings.connect_timeout_s, sock_read=read_timeout_s
    )
    # Bodies pass through byte for byte: no decompression, no cookie jar of our own.
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
    )


@contextlib.asynccontextmanager
async def open_upstreams(settings: GatewaySettings) -> AsyncIterator[Upstreams]:
    """Open the three pools; close them on exit."""
    async with contextlib.AsyncExitStack() as stack:
        was = await stack.enter_async_context(
            _session(settings, settings.was_pool_limit, settings.upstream_timeout_s)
        )
        web = await stack.enter_async_context(
            _session(settings, settings.web_pool_limit, settings.upstream_timeout_s)
        )
        streams = await stack.enter_async_context(
            _session(settings, settings.max_streams, settings.upstream_timeout_s)
        )
        wait = settings.pool_wait_timeout_s
        yield Upstreams(
            was=Upstream("was", was, settings.was_pool_limit, wait),
            web=Upstream("web", web, settings.web_pool_limit, wait),
            # A stream never waits for a slot: full is full.
            streams=Upstream("web", streams, settings.max_streams, 0.0),
            stream_clients=StreamClients(settings.max_streams_per_client),
        )
