"""`/api/docs`: Swagger UI for the OpenAPI document, served from the pinned
`swagger-ui-py` package's static files (no CDN, nothing committed but our own page and
starter script). Only the few files the page loads are served, by exact name."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

from aiohttp import web

from shared.errors import NotFound

__all__ = ["docs_asset", "docs_page"]

_OWN = Path(__file__).parent / "docs"
# Swagger UI injects inline styles; scripts stay ours and the package's, by file.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
_PACKAGE_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
_OWN_FILES = ("docs.js", "docs.css")


def _package_static() -> Path | None:
    """swagger-ui-py's static folder, found without importing the package."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "static"


def _headers(cache: bool) -> dict[str, str]:
    return {
        "Content-Security-Policy": _CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=3600" if cache else "no-store",
    }


async def docs_page(_request: web.Request) -> web.Response:
    """The docs UI's page."""
    text = await asyncio.to_thread((_OWN / "index.html").read_text, encoding="utf-8")
    return web.Response(
        text=text,
        content_type="text/html",
        charset="utf-8",
        headers=_headers(cache=False),
    )


async def docs_asset(request: web.Request) -> web.FileResponse:
    """One of the page's scripts or styles."""
    name = request.match_info["file"]
    static = _package_static()
    if name in _OWN_FILES:
        path = _OWN / name
    elif name in _PACKAGE_FILES and static is not None:
        path = static / name
    else:
        raise NotFound(f"no docs file {name!r}")
    response = web.FileResponse(path, headers=_headers(cache=True))
    response.content_type = _TYPES[path.suffix]
    return response
