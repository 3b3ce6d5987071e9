"""Which upstream owns a path: the JSON API and the tutorial's endpoint go to WAS,
everything else (pages, static files, live updates) to web. Paths here are always
the gateway's normal form (`services.gateway.paths`)."""

from __future__ import annotations

from services.gateway.settings import GatewaySettings

__all__ = ["STREAM_PATHS", "WAS_PREFIXES", "is_internal", "upstream_for"]

WAS_PREFIXES = ("/api/", "/classify/")
# Live history streams: they get their own connection pool and limits.
STREAM_PATHS = frozenset({"/events"})
# Routes the upstreams keep for their operators and orchestrators; never proxied.
_INTERNAL_PATHS = frozenset({"/ready", "/metrics"})
_INTERNAL_PREFIXES = ("/admin/", "/internal/")


def is_internal(path: str) -> bool:
    """True for a path that must not be reachable from outside."""
    return path in _INTERNAL_PATHS or path.startswith(_INTERNAL_PREFIXES) or path == "/admin"


def upstream_for(path: str, settings: GatewaySettings) -> tuple[str, str]:
    """(name, base URL) of the upstream serving `path`."""
    if path == "/api" or path.startswith(WAS_PREFIXES):
        return "was", settings.was_url.rstrip("/")
    return "web", settings.web_url.rstrip("/")
