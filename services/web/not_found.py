"""Every failure of a page as a friendly page (the browser is the client here), never
the JSON error shape the APIs use: unknown pages, wrong methods, bodies over the limit
and anything else an aiohttp handler or our own errors raise."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.typedefs import Handler

from services.web.views import failure_page
from shared.errors import KkotError

__all__ = ["html_errors_middleware"]

# Paths a program reads: they keep the JSON error shape.
_MACHINE_PATHS = ("/static/", "/health", "/events")


@web.middleware
async def html_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(_MACHINE_PATHS):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return failure_page(request, "not_found", 404)
    except web.HTTPMethodNotAllowed:
        return failure_page(request, "bad_request", 405)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = re.sub(r"[^a-z0-9]+", "_", (exc.reason or "error").lower()).strip("_")
        code = "payload_too_large" if exc.status == 413 else code
        return failure_page(request, code, exc.status)
    except KkotError as exc:
        return failure_page(request, exc.code, exc.status)
