"""The reverse proxy: one handler that streams a request to its upstream and the
answer back, chunk by chunk (server-sent events included), through the app's one
pooled `ClientSession`.

Failures before the answer starts become the error shape: 413 (body over the limit),
502 (upstream refused or dropped the connection), 504 (upstream too slow). After the
answer has started the only honest thing left is to drop the connection.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import structlog
from aiohttp import web
from yarl import URL

from services.gateway.access import PRINCIPAL
from services.gateway.body_limit import LimitedBody, check_declared_length, too_large
from services.gateway.callers import client_identity
from services.gateway.destinations import STREAM_PATHS, upstream_for
from services.gateway.error_pages import page_for_upstream
from services.gateway.forwarding import upstream_request_headers
from services.gateway.hop_by_hop import end_to_end
from services.gateway.keys import SETTINGS, STREAMS, UPSTREAMS
from services.gateway.middlewares import normal_path_of
from services.gateway.upstreams import Upstream
from shared.errors import UpstreamError, UpstreamTimeout
from shared.metrics.http import ROUTE_LABEL
from shared.middleware import REQUEST_ID_HEADER, request_id_of

__all__ = ["close_streams", "proxy"]

_log = structlog.get_logger("kkot.gateway")
# aiohttp writes its own Date and Server; the upstream's would be duplicates.
_RESPONSE_DROP = ("date", "server", "content-length")
# How often a quiet relay checks that its caller is still there.
_CALLER_CHECK_S = 1.0


async def proxy(request: web.Request) -> web.StreamResponse:
    """Forward `request` to the upstream that owns its normal path; stream the answer."""
    settings = request.app[SETTINGS]
    upstreams = request.app[UPSTREAMS]
    normal = normal_path_of(request)
    name, base = upstream_for(normal.path, settings)
    stream = normal.path in STREAM_PATHS and request.method == "GET"
    # The metrics' route: the upstream (and live streams apart), never the raw path.
    request[ROUTE_LABEL] = f"proxy:{name}:stream" if stream else f"proxy:{name}"
    check_declared_length(request, settings.max_body_bytes)
    if stream:
        client = client_identity(request, settings)
        with upstreams.stream_clients.hold(client):
            async with upstreams.streams.slot():
                return await _forward(request, upstreams.streams, name, base)
    pool = upstreams.pick(name, stream=False)
    async with pool.slot():
        return await _forward(request, pool, name, base)


async def _forward(
    request: web.Request, pool: Upstream, name: str, base: str
) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    normal = normal_path_of(request)
    body = LimitedBody(request, settings.max_body_bytes) if request.can_read_body else None
    headers = upstream_request_headers(request, settings.trusted_proxy_hops, request[PRINCIPAL])
    # encoded=True: the client sends exactly the path access was decided on (yarl
    # would otherwise re-decode and re-resolve it its own way).
    url = URL(base + normal.target, encoded=True)
    started = time.perf_counter()
    structlog.contextvars.bind_contextvars(upstream=name)
    try:
        upstream = await pool.session.request(
            request.method,
            url,
            headers=headers,
            data=body,
            # The caller's Content-Length (already checked) is kept; a body without
            # one goes chunked, as it came.
            allow_redirects=False,
        )
    except aiohttp.ConnectionTimeoutError as exc:
        raise UpstreamTimeout(
            f"{name} did not accept a connection within {settings.connect_timeout_s:g} s",
            code="upstream_connect_timeout",
        ) from exc
    except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as exc:
        if body is not None and body.exceeded:
            raise too_large(settings.max_body_bytes) from None
        raise UpstreamError(f"{name} is unreachable") from exc
    except TimeoutError as exc:
        raise UpstreamTimeout(
            f"{name} did not answer within {settings.upstream_timeout_s:g} s"
        ) from exc
    except aiohttp.ClientError as exc:
        if body is not None and body.exceeded:
            raise too_large(settings.max_body_bytes) from None
        raise UpstreamError(f"{name} failed: {type(exc).__name__}") from exc
    finally:
        structlog.contextvars.bind_contextvars(
            upstream_ms=round((time.perf_counter() - started) * 1000, 2)
        )
    streams = request.app[STREAMS]
    streams.add(upstream)
    try:
        async with upstream:
            return await _relay(request, upstream, name)
    finally:
        streams.discard(upstream)


async def _relay(
    request: web.Request, upstream: aiohttp.ClientResponse, name: str
) -> web.StreamResponse:
    """Stream the upstream's answer to the caller as it arrives."""
    page = await page_for_upstream(request, upstream)
    if page is not None:
        return page
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    response.headers.extend(end_to_end(upstream.headers, drop=_RESPONSE_DROP))
    response.headers[REQUEST_ID_HEADER] = request_id_of(request)
    length = upstream.content_length
    if length is not None and "Transfer-Encoding" not in upstream.headers:
        response.content_length = length
    await response.prepare(request)
    try:
        while chunk := await _next_chunk(request, upstream):
            try:
                await response.write(chunk)
            except ConnectionResetError:
                return response  # the caller left; closing `upstream` tells the upstream
    except (aiohttp.ClientError, TimeoutError, asyncio.IncompleteReadError) as exc:
        # Headers are gone already: log and drop the connection rather than pretend.
        _log.warning("upstream_stream_broken", upstream=name, error=type(exc).__name__)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


async def _next_chunk(request: web.Request, upstream: aiohttp.ClientResponse) -> bytes:
    """The next piece of the answer; b"" at its end or once the caller has gone (a
    quiet stream would otherwise hold its slot until the next heartbeat fails)."""
    if upstream.content_length is not None:
        return await upstream.content.readany()  # a bounded answer: no need to watch
    while True:
        try:
            return await asyncio.wait_for(upstream.content.readany(), _CALLER_CHECK_S)
        except TimeoutError:
            if request.transport is None or request.transport.is_closing():
                return b""


async def close_streams(app: web.Application) -> None:
    """On shutdown: end the relays still running (live event streams never end by
    themselves); their clients see the stream close and reconnect elsewhere."""
    streams = app[STREAMS]
    for upstream in list(streams):
        upstream.close()
