"""The gateway application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.gateway.error_pages import html_error_pages_middleware
from services.gateway.keys import RATE_LIMITER, SESSION, SETTINGS, STREAMS
from services.gateway.middlewares import (
    access_fields_middleware,
    auth_middleware,
    rate_limit_middleware,
)
from services.gateway.proxy import close_streams
from services.gateway.ratelimit import RateLimiter
from services.gateway.routes import setup_routes
from services.gateway.settings import GatewaySettings
from shared.middleware import error_middleware, make_request_context_middleware

__all__ = ["create_app"]


async def _upstream_session(app: web.Application) -> AsyncIterator[None]:
    """One pooled, keep-alive client for every upstream call."""
    settings = app[SETTINGS]
    connector = aiohttp.TCPConnector(
        limit=settings.pool_limit,
        limit_per_host=settings.pool_limit_per_host,
        keepalive_timeout=30,
    )
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=settings.connect_timeout_s,
        sock_read=settings.upstream_timeout_s,
    )
    # Bodies pass through byte for byte: no decompression, no cookie jar of our own.
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
    ) as session:
        app[SESSION] = session
        yield


def create_app(settings: GatewaySettings) -> web.Application:
    """Build the gateway."""
    app = web.Application(
        middlewares=[
            access_fields_middleware,
            make_request_context_middleware("gateway"),
            html_error_pages_middleware,
            error_middleware,
            rate_limit_middleware,
            auth_middleware,
        ],
        # Bodies are streamed, never read whole, so aiohttp's own cap does not apply.
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[RATE_LIMITER] = RateLimiter(
        settings.rate_capacity, settings.rate_refill_per_s, settings.rate_max_clients
    )
    app[STREAMS] = set()
    app.cleanup_ctx.append(_upstream_session)
    app.on_shutdown.append(close_streams)
    setup_routes(app)
    return app
