"""Which language to answer in: `?lang=` first, then `Accept-Language`, then the default."""

from __future__ import annotations

from aiohttp import web

from shared.contracts.model import Language
from shared.errors import BadRequest
from shared.http.accept import preferred_languages

__all__ = ["negotiate_language"]


def negotiate_language(
    request: web.Request, allowed: tuple[Language, ...], default: Language
) -> Language:
    """The language for this request's display names and descriptions."""
    asked = request.query.get("lang")
    if asked is not None:
        for language in allowed:
            if asked.lower() == language:
                return language
        raise BadRequest(
            f"unsupported language; use one of: {', '.join(allowed)}", code="unsupported_language"
        )
    header = request.headers.get("Accept-Language", "")
    preferred = preferred_languages(header, allowed, default)
    return preferred[0] if preferred else default
