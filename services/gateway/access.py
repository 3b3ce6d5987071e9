"""The access model, enforced at the one public entry point (README "Access").

Keys off (the default): everyone may read, create, correct and delete; the principal
is "anonymous". Keys on: every route that reads or writes records (pages, live
streams, the JSON API, the tutorial's endpoint, thumbnails, form posts) needs a
principal: an API key (`X-API-Key` / `Authorization: Bearer`) or a browser session
made from one on `/login`. Only health, static files, the language switch and the
login page are open. Without one, a browser asking for a page is sent to `/login`, any
other caller gets 401; a wrong key is 403.

The principal goes upstream in `X-Kkot-Principal` (a caller's own value is dropped),
so WAS records who created and who corrected a record. Requests that change something
on the strength of a session cookie must come from this site (`Origin` check), on top
of the cookie's SameSite=Lax.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from services.gateway.auth import matching_key, presented_key
from services.gateway.keys import NORMAL_PATH, SESSION_SECRET, SETTINGS
from services.gateway.sessions import SESSION_COOKIE, verify_session
from shared.errors import Forbidden, Unauthorized
from shared.open_paths import is_open
from shared.principal import ANONYMOUS

__all__ = ["PRINCIPAL", "access_middleware", "key_principal"]

PRINCIPAL = web.RequestKey("principal", str)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def key_principal(key: str) -> str:
    """The principal of an API key's holder (a hash: keys never travel or get stored)."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _wants_page(request: web.Request) -> bool:
    """A browser navigating (a page, or a form post): it is sent to sign in."""
    return request.method in ("GET", "POST") and "text/html" in request.headers.get(hdrs.ACCEPT, "")


def _same_site(request: web.Request) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return True  # older browsers send none on same-site form posts; SameSite covers it
    return origin in (f"{request.scheme}://{request.host}", f"https://{request.host}")


def _principal(request: web.Request) -> str | None:
    """The principal the request proves; raises 403 for a wrong key."""
    settings = request.app[SETTINGS]
    if presented_key(request) is not None:
        key = matching_key(request, settings.api_keys)
        if key is None:
            raise Forbidden("the API key is not valid")
        return key_principal(key)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = verify_session(request.app[SESSION_SECRET], cookie)
        if principal is not None:
            if request.method not in _SAFE_METHODS and not _same_site(request):
                raise Forbidden("a session may only be used from this site", code="cross_site")
            return principal
    return None


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Decide the principal on the normal path; 401/403 or the login page when needed."""
    settings = request.app[SETTINGS]
    path = request[NORMAL_PATH].path
    if not settings.api_keys:
        request[PRINCIPAL] = ANONYMOUS
        return await handler(request)
    principal = _principal(request)
    if principal is None and not is_open(path):
        if _wants_page(request):
            back = request[NORMAL_PATH].target if request.method == "GET" else "/"
            raise web.HTTPSeeOther(location=f"/login?next={quote(back, safe='/?=&')}")
        raise Unauthorized(
            "an API key is required (X-API-Key or Authorization: Bearer), "
            "or sign in on /login in a browser"
        )
    request[PRINCIPAL] = principal or ANONYMOUS
    return await handler(request)
