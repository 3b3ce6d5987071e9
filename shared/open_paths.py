"""Which paths anyone may reach through the gateway, API keys on or off.

One rule for the gateway, which enforces it (`services.gateway.access`), and for WAS's
OpenAPI document, which tells clients which operations need a key."""

from __future__ import annotations

__all__ = ["is_open"]

_OPEN_PATHS = frozenset(
    {
        "/health",
        "/login",
        "/logout",
        "/favicon.ico",
        # The API's own documentation: a developer reads it before holding a key.
        "/api/docs",
        "/api/v1/openapi.json",
    }
)
_OPEN_PREFIXES = ("/static/", "/lang/", "/api/docs/")


def is_open(path: str) -> bool:
    """Paths anyone may reach, keys on or off (`path` is the gateway's normalised one)."""
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)
