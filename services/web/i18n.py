"""Languages: which one a request wants, and the message catalogs (one JSON file per
language in `locales/`, loaded once at start)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import cast, get_args

from aiohttp import web

from shared.contracts.model import Language
from shared.http.accept import preferred_languages

__all__ = [
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "Messages",
    "messages",
    "negotiate",
]

LANGUAGES: tuple[Language, ...] = cast(tuple[Language, ...], get_args(Language))
LANGUAGE_COOKIE = "kkot_lang"
_LOCALES = Path(__file__).parent / "locales"


class Messages:
    """One language's catalog; `t(key, **values)` formats a message, and a missing key
    shows itself (so a gap is visible in review, not a crash in production)."""

    def __init__(self, language: Language, catalog: dict[str, str]) -> None:
        self.language = language
        self._catalog = catalog

    def __call__(self, key: str, **values: object) -> str:
        text = self._catalog.get(key, key)
        return text.format(**values) if values else text

    def keys(self) -> set[str]:
        return set(self._catalog)


@cache
def messages(language: Language) -> Messages:
    """The catalog of `language`."""
    with (_LOCALES / f"{language}.json").open(encoding="utf-8") as fh:
        catalog: dict[str, str] = json.load(fh)
    return Messages(language, catalog)


def negotiate(request: web.Request, default: Language) -> Language:
    """`?lang=` first, then the switch's cookie, then Accept-Language, then `default`."""
    for candidate in (request.query.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    preferred = preferred_languages(request.headers.get("Accept-Language", ""), LANGUAGES, default)
    return preferred[0] if preferred else default
