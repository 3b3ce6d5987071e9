"""Security headers on every page: a strict Content-Security-Policy (our own scripts
and styles only, nothing inline, no framing) plus nosniff and a referrer policy; and
long-lived caching for the versioned static files."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from services.web.keys import SETTINGS
from shared.principal import PRINCIPAL_HEADER, current_principal

__all__ = ["CONTENT_SECURITY_POLICY", "security_headers_middleware"]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # blob: for the preview of the picked photo, data: for none of ours but harmless icons
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Calls to WAS made for this request act for the gateway's principal.
    current_principal.set(request.headers.get(PRINCIPAL_HEADER))
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _apply(request, exc)
        raise
    _apply(request, response)
    return response


def _apply(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a live stream: its headers went out already (set in the handler)
        return
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
    if request.path.startswith("/static/"):
        max_age = request.app[SETTINGS].static_max_age_s
        headers["Cache-Control"] = f"public, max-age={max_age}, immutable"
    else:
        headers.setdefault("Cache-Control", "no-store")
