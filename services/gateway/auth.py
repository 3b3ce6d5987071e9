"""API keys: where a caller presents one (`X-API-Key` or `Authorization: Bearer <key>`)
and which configured key it is. Keys are compared in constant time and never logged;
what they grant is decided in `access.py`."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from aiohttp import web
from pydantic import SecretStr

__all__ = ["matching_key", "matching_key_value", "presented_key"]


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
    return matching_key_value(given, keys)


def matching_key_value(given: str, keys: Iterable[SecretStr]) -> str | None:
    """The configured key equal to `given`, or None."""
    if not given:
        return None
    found = None
    for key in keys:
        # Compare against every key so timing does not reveal which one was close.
        if hmac.compare_digest(key.get_secret_value().encode(), given.encode()):
            found = key.get_secret_value()
    return found
