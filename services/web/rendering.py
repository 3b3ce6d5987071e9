"""Page rendering: one jinja2 environment (autoescaping on), and `render()` which gives
every template the request's language, its messages, named-route URLs and versioned
static URLs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from services.web.i18n import LANGUAGES, messages, negotiate
from services.web.keys import JINJA, SETTINGS, STATIC_VERSIONS
from shared.contracts.model import Language
from shared.limits import size_text

__all__ = [
    "STATIC_DIR",
    "create_environment",
    "language_of",
    "render",
    "render_text",
    "static_versions",
]

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def create_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def static_versions() -> dict[str, str]:
    """A short content hash per static file: URLs change when files do, so they can
    be cached for long."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in STATIC_DIR.iterdir()
        if path.is_file()
    }


def language_of(request: web.Request) -> Language:
    return negotiate(request, request.app[SETTINGS].default_language)


def render_text(request: web.Request, template: str, **context: Any) -> str:
    """The template rendered for this request, as text."""
    app = request.app
    language = language_of(request)
    versions = app[STATIC_VERSIONS]

    def url(name: str, **parts: str) -> str:
        query = parts.pop("query", None)
        built = app.router[name].url_for(**parts)
        return str(built.with_query(query) if query else built)

    def static(filename: str) -> str:
        base = app.router["static"].url_for(filename=filename)
        return f"{base}?v={versions.get(filename, '0')}"

    return (
        app[JINJA]
        .get_template(template)
        .render(
            request=request,
            lang=language,
            languages=LANGUAGES,
            t=messages(language),
            url=url,
            static=static,
            # The one upload limit, as every page states it (shared.limits).
            upload_limit=size_text(app[SETTINGS].max_upload_bytes),
            **context,
        )
    )


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """A full HTML response; `Vary` because the language follows request headers."""
    response = web.Response(
        text=render_text(request, template, **context),
        status=status,
        content_type="text/html",
        charset="utf-8",
    )
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Content-Language"] = language_of(request)
    return response
