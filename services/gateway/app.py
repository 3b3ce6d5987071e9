"""The gateway application factory."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway.access import access_middleware
from services.gateway.cors import add_cors_headers, cors_preflight_middleware
from services.gateway.error_pages import html_error_pages_middleware
from services.gateway.keys import RATE_LIMITER, SESSION_SECRET, SETTINGS, STREAMS, UPSTREAMS
from services.gateway.middlewares import (
    access_fields_middleware,
    normal_path_middleware,
    rate_limit_middleware,
)
from services.gateway.proxy import close_streams
from services.gateway.ratelimit import RateLimiter
from services.gateway.routes import setup_routes
from services.gateway.settings import GatewaySettings
from services.gateway.upstreams import open_upstreams
from shared import server_header
from shared.metrics.http import METRICS, install_metrics, metrics_listener, metrics_middleware
from shared.middleware import error_middleware, make_request_context_middleware

__all__ = ["create_app"]


async def _upstreams(app: web.Application) -> AsyncIterator[None]:
    """The pooled, keep-alive clients towards the upstreams, one pool per traffic kind."""
    async with open_upstreams(app[SETTINGS]) as upstreams:
        app[UPSTREAMS] = upstreams
        yield


async def _metrics_listener(app: web.Application) -> AsyncIterator[None]:
    """The gateway's own /metrics on a port of its own: the public listener never
    answers it, and on AWS the load balancer and security groups reach only the public
    port."""
    settings = app[SETTINGS]
    if settings.metrics_port is None:
        yield
        return
    async with metrics_listener(app[METRICS], settings.host, settings.metrics_port):
        yield


def create_app(settings: GatewaySettings) -> web.Application:
    """Build the gateway."""
    app = web.Application(
        middlewares=[
            access_fields_middleware,
            make_request_context_middleware("gateway"),
            metrics_middleware,
            html_error_pages_middleware,
            error_middleware,
            normal_path_middleware,
            cors_preflight_middleware,
            rate_limit_middleware,
            access_middleware,
        ],
        # Bodies are streamed, never read whole, so aiohttp's own cap does not apply.
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    secret = settings.session_secret
    app[SESSION_SECRET] = (
        secret.get_secret_value().encode() if secret is not None else secrets.token_bytes(32)
    )
    app[RATE_LIMITER] = RateLimiter(
        settings.rate_capacity, settings.rate_refill_per_s, settings.rate_max_clients
    )
    app[STREAMS] = set()
    install_metrics(app, "gateway", settings)
    app.cleanup_ctx.append(_upstreams)
    app.cleanup_ctx.append(_metrics_listener)
    app.on_shutdown.append(close_streams)
    app.on_response_prepare.append(add_cors_headers)
    server_header.install(app)
    setup_routes(app)
    return app
