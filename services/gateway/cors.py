"""Cross-origin access from a configured allow-list (empty by default: no other site
may call the API from a browser).

A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered
by the gateway itself, before keys and rate limits (browsers send it without either):
204 with the allowed methods and headers for a listed origin, 403 in the error shape
otherwise. Actual answers to a listed origin carry `Access-Control-Allow-Origin` with
that one origin (never `*`) and `Vary: Origin`. Credentials (cookies) are never allowed
cross-origin: other sites use API keys.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from services.gateway.keys import SETTINGS
from shared.errors import Forbidden

__all__ = ["add_cors_headers", "cors_preflight_middleware"]


_METHODS = "GET, POST, DELETE"
_HEADERS = (
    "Accept, Accept-Language, Authorization, Content-Type, If-Match, Prefer, "
    "X-API-Key, X-Request-ID"
)
_EXPOSED = "ETag, Location, Retry-After, X-Request-ID, Preference-Applied"


def _allowed(request: web.Request) -> str | None:
    origin = request.headers.get(hdrs.ORIGIN)
    if origin and origin in request.app[SETTINGS].cors_allow_origins:
        return origin
    return None


@web.middleware
async def cors_preflight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer CORS preflights here; everything else goes on."""
    is_preflight = (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ORIGIN in request.headers
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    )
    if not is_preflight:
        return await handler(request)
    origin = _allowed(request)
    if origin is None:
        raise Forbidden("this origin may not call the API from a browser", code="cors_refused")
    return web.Response(
        status=204,
        headers={
            hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
            hdrs.ACCESS_CONTROL_ALLOW_METHODS: _METHODS,
            hdrs.ACCESS_CONTROL_ALLOW_HEADERS: _HEADERS,
            hdrs.ACCESS_CONTROL_MAX_AGE: str(request.app[SETTINGS].cors_max_age_s),
            hdrs.VARY: "Origin",
        },
    )


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: allow a listed origin to read the answer."""
    origin = _allowed(request)
    if origin is None or hdrs.ACCESS_CONTROL_ALLOW_ORIGIN in response.headers:
        return
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = _EXPOSED
    response.headers.add(hdrs.VARY, "Origin")
