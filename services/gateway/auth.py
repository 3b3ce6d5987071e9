"""API keys for the JSON API (`/api/*`), when any are configured.

A key comes in `X-API-Key` or `Authorization: Bearer <key>`. No key is 401, a wrong
key 403. Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from aiohttp import web
from pydantic import SecretStr

from shared.errors import Forbidden, Unauthorized

__all__ = ["matching_key", "presented_key", "require_api_key"]

PROTECTED_PREFIX = "/api/"


def presented_key(request: web.Request) -> str | None:
    """The key the caller sent, if any."""
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def matching_key(request: web.Request, keys: Iterable[SecretStr]) -> str | None:
    """The configured key the caller presented, or None."""
    given = presented_key(request)
    if given is None:
        return None
    found = None
    for key in keys:
        # Compare against every key so timing does not reveal which one was close.
        if hmac.compare_digest(key.get_secret_value().encode(), given.encode()):
            found = key.get_secret_value()
    return found


def require_api_key(request: web.Request, path: str, keys: frozenset[SecretStr]) -> None:
    """Raise 401/403 unless `path` (the normal path) is open or the caller holds a key."""
    if not keys or not (path == "/api" or path.startswith(PROTECTED_PREFIX)):
        return
    if presented_key(request) is None:
        raise Unauthorized("an API key is required (X-API-Key or Authorization: Bearer)")
    if matching_key(request, keys) is None:
        raise Forbidden("the API key is not valid")
