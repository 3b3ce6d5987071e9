"""Which upstream owns a path: the JSON API and the tutorial's endpoint go to WAS,
everything else (pages, static files, live updates) to web."""

from __future__ import annotations

from services.gateway.settings import GatewaySettings

__all__ = ["WAS_PREFIXES", "upstream_for"]

WAS_PREFIXES = ("/api/", "/classify/")


def upstream_for(path: str, settings: GatewaySettings) -> tuple[str, str]:
    """(name, base URL) of the upstream serving `path`."""
    if path == "/api" or path.startswith(WAS_PREFIXES):
        return "was", settings.was_url.rstrip("/")
    return "web", settings.web_url.rstrip("/")
