"""Who is calling: the client's address (honouring trusted proxies) and the identity
the rate limiter keys on."""

from __future__ import annotations

import hashlib

from aiohttp import web

from services.gateway.auth import matching_key
from services.gateway.settings import GatewaySettings

__all__ = ["client_address", "client_identity"]


def client_address(request: web.Request, trusted_proxy_hops: int) -> str:
    """The caller's address: the socket peer, or, behind `trusted_proxy_hops` proxies,
    the entry those proxies appended to X-Forwarded-For (entries further left are
    client-supplied and could be forged)."""
    peer = request.remote or "unknown"
    if trusted_proxy_hops <= 0:
        return peer
    chain = [
        part.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for part in header.split(",")
        if part.strip()
    ]
    if len(chain) >= trusted_proxy_hops:
        return chain[-trusted_proxy_hops]
    return chain[0] if chain else peer


def client_identity(request: web.Request, settings: GatewaySettings) -> str:
    """A valid API key identifies its owner (hashed: keys never sit in the table as
    text); anything else is limited by address, so made-up keys earn no fresh bucket."""
    key = matching_key(request, settings.api_keys)
    if key is not None:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return "addr:" + client_address(request, settings.trusted_proxy_hops)
