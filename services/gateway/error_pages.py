"""Error pages for browsers: a person whose browser asked for HTML never sees the JSON
error shape, whether the gateway refused the request itself (a 27 MB photo through the
no-JavaScript form, a rate limit, web or WAS down) or an upstream answered with it (a
browser that opened an `/api/...` address).

The words come from web's message catalogs (`services.web.i18n`, the one home of the
pages' text in Korean and English); the page links web's stylesheet and still reads
well without it, since web may be the upstream that is down. Programs (JSON or `*/*`
Accept headers, the page script's `fetch`) keep the JSON shape.
"""

from __future__ import annotations

import html

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from services.gateway.keys import SETTINGS
from services.web.i18n import messages as catalog
from services.web.i18n import negotiate
from shared.contracts.errors import ErrorResponse
from shared.limits import size_text, upload_limit_of_body
from shared.middleware import request_id_of

__all__ = ["KNOWN_CODES", "html_error_pages_middleware", "page_for_upstream", "wants_html"]

# Headers of the JSON answer that still mean something on the page.
_KEPT_HEADERS = ("Retry-After", "Allow", "WWW-Authenticate")
# Error bodies are small; a bigger one is not the error shape and is passed on as it is.
_MAX_ERROR_BODY = 64 * 1024
# Error codes with a message of their own in web's catalogs; the rest read "generic".
KNOWN_CODES = frozenset(
    {
        "payload_too_large",
        "rate_limited",
        "not_found",
        "service_unavailable",
        "upstream_timeout",
        "upstream_error",
        "empty_file",
        "invalid_image",
        "unsupported_media_type",
        "bad_request",
        "unauthorized",
        "forbidden",
    }
)
# Codes that read the same to a person as one with a message (WAS's 415 names the format
# table's refusal; the page says what the model server's does).
_ALIASES = {"unsupported_image_format": "unsupported_media_type"}


def wants_html(request: web.Request) -> bool:
    """True for a browser's navigation (its Accept names text/html)."""
    return "text/html" in request.headers.get("Accept", "").lower()


def render_page(request: web.Request, status: int, code: str) -> str:
    """The page for an error `code`, in the reader's language."""
    language = negotiate(request, "en")
    t = catalog(language)
    limit = size_text(upload_limit_of_body(request.app[SETTINGS].max_body_bytes))
    code = _ALIASES.get(code, code)
    message = t(f"error.{code}" if code in KNOWN_CODES else "error.generic", limit=limit)
    title = t("error.title")
    parts = {
        "lang": language,
        "title": title,
        "app": t("app.name"),
        "message": message,
        "reference": t("error.reference", id=request_id_of(request)),
        "back": t("error.back"),
    }
    e = {key: html.escape(value) for key, value in parts.items()}
    return (
        f'<!doctype html>\n<html lang="{e["lang"]}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{e['title']} · {e['app']}</title>\n"
        '<link rel="stylesheet" href="/static/app.css">\n</head>\n'
        f'<body data-page="error" data-status="{status}">\n'
        f'<main class="container" id="main">\n<div class="card narrow error-card">\n'
        f"<h1>{e['title']}</h1>\n"
        f'<p class="error-text" role="alert">{e["message"]}</p>\n'
        f'<p class="meta">{e["reference"]}</p>\n'
        f'<p><a class="button" href="/">{e["back"]}</a></p>\n'
        "</div>\n</main>\n</body>\n</html>\n"
    )


def _page(request: web.Request, status: int, code: str, headers: dict[str, str]) -> web.Response:
    response = web.Response(
        text=render_page(request, status, code),
        status=status,
        content_type="text/html",
        charset="utf-8",
    )
    for name, value in headers.items():
        if name in _KEPT_HEADERS:
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept, Accept-Language, Cookie"
    return response


def _code_of(body: bytes) -> str:
    try:
        return ErrorResponse.model_validate_json(body).error.code
    except ValidationError:
        return "generic"


@web.middleware
async def html_error_pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The gateway's own JSON errors (413, 429, 502, 504, ...) as pages for browsers."""
    response = await handler(request)
    if (
        response.status >= 400
        and not response.prepared
        and isinstance(response, web.Response)
        and response.content_type == "application/json"
        and wants_html(request)
    ):
        body = response.body if isinstance(response.body, bytes) else b""
        return _page(request, response.status, _code_of(body), dict(response.headers))
    return response


async def page_for_upstream(
    request: web.Request, upstream: aiohttp.ClientResponse
) -> web.Response | None:
    """An upstream's JSON error as a page when a browser asked; None to relay as is."""
    if (
        upstream.status < 400
        or upstream.content_type != "application/json"
        or not wants_html(request)
        or (upstream.content_length or 0) > _MAX_ERROR_BODY
    ):
        return None
    body = await upstream.content.read(_MAX_ERROR_BODY)
    return _page(request, upstream.status, _code_of(body), dict(upstream.headers))
