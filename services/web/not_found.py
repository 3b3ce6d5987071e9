"""Unknown pages and wrong methods as friendly pages (the browser is the client here),
not the JSON error shape the APIs use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.web.views import failure_page

__all__ = ["html_errors_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def html_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.path.startswith("/static/"):
            raise
        return failure_page(request, "not_found", 404)
    except web.HTTPMethodNotAllowed:
        return failure_page(request, "bad_request", 405)
