"""The web application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.web.feeds import live_feed
from services.web.keys import (
    BROADCASTER,
    BUS,
    JINJA,
    MODEL_CACHE,
    REVIEW,
    SETTINGS,
    STATIC_VERSIONS,
    WAS,
)
from services.web.live import Broadcaster
from services.web.model_cache import ModelCache
from services.web.not_found import html_errors_middleware
from services.web.rendering import create_environment, static_versions
from services.web.review_store import ReviewStore
from services.web.routes import setup_routes
from services.web.security import security_headers_middleware
from services.web.settings import WebSettings
from services.web.was_client import WasClient
from shared import server_header
from shared.events import EventBus
from shared.limits import ENVELOPE_BYTES
from shared.metrics.catalog import BUS_METRICS
from shared.metrics.http import install_metrics, metrics_middleware
from shared.middleware import error_middleware, make_request_context_middleware

__all__ = ["create_app"]


async def _was_client(app: web.Application) -> AsyncIterator[None]:
    """One pooled, keep-alive session towards WAS for the app's lifetime."""
    settings = app[SETTINGS]
    # `sock_connect` times opening a socket only; the wait for a pooled connection
    # falls under `total` (a busy pool is not "WAS did not answer").
    timeout = aiohttp.ClientTimeout(total=settings.was_timeout_s, sock_connect=5)
    connector = aiohttp.TCPConnector(limit=settings.was_pool_limit, keepalive_timeout=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        app[WAS] = WasClient(session, settings.was_url)
        app[MODEL_CACHE] = ModelCache(app[WAS])
        yield


async def _end_live_streams(app: web.Application) -> None:
    """On shutdown, end every SSE stream so the server need not wait them out."""
    app[BROADCASTER].close()


def create_app(settings: WebSettings, *, bus: EventBus | None = None) -> web.Application:
    """Build the web UI; with `bus`, live history comes from its events."""
    app = web.Application(
        middlewares=[
            make_request_context_middleware("web"),
            metrics_middleware,
            security_headers_middleware,
            error_middleware,
            html_errors_middleware,
        ],
        client_max_size=settings.max_upload_bytes + ENVELOPE_BYTES,
    )
    app[SETTINGS] = settings
    app[JINJA] = create_environment()
    app[STATIC_VERSIONS] = static_versions()
    app[BROADCASTER] = Broadcaster(settings.sse_queue_size, settings.sse_max_clients)
    app[REVIEW] = ReviewStore(settings.review_dir, settings.overrides_file)
    if bus is not None:
        app[BUS] = bus
    install_metrics(app, "web", settings, BUS_METRICS)
    app.cleanup_ctx.append(_was_client)
    app.cleanup_ctx.append(live_feed)
    app.on_shutdown.append(_end_live_streams)
    server_header.install(app)
    setup_routes(app)
    return app
