"""Which language to answer in: `?lang=` first, then `Accept-Language`, then the default."""

from __future__ import annotations

from aiohttp import web

from shared.contracts.model import Language
from shared.errors import BadRequest

__all__ = ["negotiate_language"]


def _accept_language(header: str, allowed: tuple[Language, ...]) -> Language | None:
    """The allowed language the header ranks highest (primary subtag match, q-values)."""
    best: tuple[float, int, Language] | None = None
    for position, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        for language in allowed:
            if primary == language and quality > 0:
                # Higher q wins; on a tie, the earlier entry.
                rank = (quality, -position, language)
                if best is None or rank[:2] > best[:2]:
                    best = rank
    return best[2] if best else None


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
    return _accept_language(header, allowed) or default
