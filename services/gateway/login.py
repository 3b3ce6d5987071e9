"""`/login` and `/logout`: turn an API key into a browser session (keys on only).

The page is plain HTML without scripts (it works with JavaScript off and under the
strictest CSP); the form posts the key, which is checked like a header key; the next
page is always a path on this site.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from aiohttp import web

from services.gateway.access import key_principal
from services.gateway.auth import matching_key_value
from services.gateway.keys import SESSION_SECRET, SETTINGS
from services.gateway.sessions import SESSION_COOKIE, sign_session
from shared.errors import PayloadTooLarge
from shared.redirects import same_site_path

__all__ = ["login_form", "login_submit", "logout"]

_MAX_FORM_BYTES = 4096
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · kkot</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Sign in</h1>
<p>This kkot needs an API key. Ask its operator for one.</p>{problem}
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label for="key">API key</label> <input id="key" name="key" type="password" required autofocus>
<button type="submit">Sign in</button>
</form></main></body></html>
"""
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _page(next_path: str, problem: str = "", status: int = 200) -> web.Response:
    shown = f'<p role="alert">{html.escape(problem)}</p>' if problem else ""
    body = _PAGE.format(problem=shown, next=html.escape(next_path, quote=True))
    return web.Response(text=body, content_type="text/html", status=status, headers=_HEADERS)


async def login_form(request: web.Request) -> web.StreamResponse:
    """The sign-in page (with keys off there is nothing to sign in to)."""
    next_path = same_site_path(request.query.get("next"))
    if not request.app[SETTINGS].api_keys:
        raise web.HTTPSeeOther(location=next_path)
    return _page(next_path)


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check the key; on success set the session cookie and go to `next`."""
    settings = request.app[SETTINGS]
    raw = await request.content.read(_MAX_FORM_BYTES + 1)
    if len(raw) > _MAX_FORM_BYTES:
        raise PayloadTooLarge(f"the sign-in form is larger than {_MAX_FORM_BYTES} bytes")
    form = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=8)
    next_path = same_site_path((form.get("next") or ["/"])[0])
    if not settings.api_keys:
        raise web.HTTPSeeOther(location=next_path)
    key = matching_key_value((form.get("key") or [""])[0].strip(), settings.api_keys)
    if key is None:
        return _page(next_path, "That key is not valid.", status=403)
    response = web.HTTPSeeOther(location=next_path)
    response.set_cookie(
        SESSION_COOKIE,
        sign_session(request.app[SESSION_SECRET], key_principal(key), settings.session_ttl_s),
        max_age=settings.session_ttl_s,
        httponly=True,
        samesite="Lax",
        secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
        path="/",
    )
    raise response


async def logout(_request: web.Request) -> web.StreamResponse:
    """End the session."""
    response = web.HTTPSeeOther(location="/")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
