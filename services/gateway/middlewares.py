"""The gateway's own middlewares, run inside the shared request-context and error
middlewares: the one normal path and the edge rate limit."""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from services.gateway.callers import client_identity
from services.gateway.destinations import is_internal
from services.gateway.keys import NORMAL_PATH, RATE_LIMITER, SETTINGS
from services.gateway.paths import NormalPath, normalise_target
from shared.errors import NotFound, TooManyRequests

__all__ = [
    "access_fields_middleware",
    "normal_path_middleware",
    "normal_path_of",
    "rate_limit_middleware",
]

# The gateway's own health check is never limited: load balancers poll it.
_EXEMPT = frozenset({"/health"})


@web.middleware
async def access_fields_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: the proxy binds `upstream` and `upstream_ms` for the shared access
    line; unbind them afterwards so they never leak into the next request's line on a
    kept-alive connection."""
    with structlog.contextvars.bound_contextvars(upstream=None, upstream_ms=None):
        return await handler(request)


def normal_path_of(request: web.Request) -> NormalPath:
    """The request's normal path (set by `normal_path_middleware`)."""
    return request[NORMAL_PATH]


@web.middleware
async def normal_path_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Normalise the raw target once (400 when ambiguous); internal routes are 404.
    Everything after this (limits, keys, routing, forwarding) reads `NORMAL_PATH`."""
    normal = normalise_target(request.raw_path)
    if is_internal(normal.path):
        raise NotFound("no such page")
    request[NORMAL_PATH] = normal
    return await handler(request)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """429 with Retry-After once a client's token bucket is empty."""
    limiter = request.app[RATE_LIMITER]
    if limiter.enabled and normal_path_of(request).path not in _EXEMPT:
        wait = limiter.acquire(client_identity(request, request.app[SETTINGS]))
        if wait > 0:
            raise TooManyRequests("too many requests; slow down", retry_after=wait)
    return await handler(request)
