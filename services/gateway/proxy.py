"""The reverse proxy: one handler that sends a request to its upstream and the answer
back through the app's pooled `ClientSession`s.

Bodies up to `proxy_buffer_bytes` (a request's declared Content-Length, an answer's)
are read whole first and sent on in one write, as nginx buffers: a slow upload holds no
upstream slot while it trickles in, and an answer broken off midway is still an honest
502 (nothing has reached the caller yet).
Anything larger, a body without a length, and live streams (server-sent events) go
chunk by chunk.

Failures before the answer starts become the error shape: 413 (body over the limit),
502 (upstream refused or dropped the connection), 504 (upstream too slow). After the
answer has started the only honest thing left is to drop the connection.
"""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict
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
# Answers without a body even when a Content-Length describes one.
_BODILESS = frozenset({HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED})
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
    declared = check_declared_length(request, settings.max_body_bytes)
    if stream:
        client = client_identity(request, settings)
        with upstreams.stream_clients.hold(client):
            async with upstreams.streams.slot():
                return await _forward(request, upstreams.streams, name, base, None)
    # Read before taking a slot: the upstream is not kept waiting for a slow caller.
    buffered = await _small_body(request, declared, settings.proxy_buffer_bytes)
    pool = upstreams.pick(name, stream=False)
    async with pool.slot():
        return await _forward(request, pool, name, base, buffered)


async def _small_body(request: web.Request, declared: int | None, buffer: int) -> bytes | None:
    """The whole body when its declared length fits the buffer, else None (streamed)."""
    if declared is None or declared > buffer or not request.can_read_body:
        return None
    # The length was checked against the limit, and aiohttp's parser stops at it.
    return await request.read()


async def _forward(
    request: web.Request, pool: Upstream, name: str, base: str, buffered: bytes | None
) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    normal = normal_path_of(request)
    body: bytes | LimitedBody | None = buffered
    if body is None and request.can_read_body:
        body = LimitedBody(request, settings.max_body_bytes)
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
        if isinstance(body, LimitedBody) and body.exceeded:
            raise too_large(settings.max_body_bytes) from None
        raise UpstreamError(f"{name} is unreachable") from exc
    except TimeoutError as exc:
        raise UpstreamTimeout(
            f"{name} did not answer within {settings.upstream_timeout_s:g} s"
        ) from exc
    except aiohttp.ClientError as exc:
        if isinstance(body, LimitedBody) and body.exceeded:
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
            page = await page_for_upstream(request, upstream)
            if page is not None:
                return page
            if _bounded(request, upstream, settings.proxy_buffer_bytes):
                return await _answer_whole(request, upstream, name)
            return await _relay(request, upstream, name)
    finally:
        streams.discard(upstream)


def _bounded(request: web.Request, upstream: aiohttp.ClientResponse, buffer: int) -> bool:
    """Whether the answer is a body whose length fits the buffer: never a stream, nor an
    answer whose Content-Length describes a body it does not carry (HEAD, 204, 304)."""
    length = upstream.content_length
    return (
        length is not None
        and length <= buffer
        and "Transfer-Encoding" not in upstream.headers
        and request.method != "HEAD"
        and upstream.status not in _BODILESS
    )


def _answer_headers(request: web.Request, upstream: aiohttp.ClientResponse) -> CIMultiDict[str]:
    headers = CIMultiDict(end_to_end(upstream.headers, drop=_RESPONSE_DROP))
    headers[REQUEST_ID_HEADER] = request_id_of(request)
    return headers


async def _answer_whole(
    request: web.Request, upstream: aiohttp.ClientResponse, name: str
) -> web.Response:
    """A bounded answer read whole, then sent as one response: nothing has reached the
    caller yet if the upstream breaks off, so that is still an honest 502."""
    try:
        body = await upstream.read()
    except TimeoutError as exc:  # before ClientError: aiohttp's read timeout is both
        settings = request.app[SETTINGS]
        raise UpstreamTimeout(
            f"{name} did not answer within {settings.upstream_timeout_s:g} s"
        ) from exc
    except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
        raise UpstreamError(f"{name} broke off its answer") from exc
    return web.Response(
        status=upstream.status,
        reason=upstream.reason,
        body=body,
        headers=_answer_headers(request, upstream),
    )


async def _relay(
    request: web.Request, upstream: aiohttp.ClientResponse, name: str
) -> web.StreamResponse:
    """Stream the upstream's answer to the caller as it arrives."""
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    response.headers.extend(_answer_headers(request, upstream))
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
