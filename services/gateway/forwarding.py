"""The request headers the gateway sends upstream: end-to-end headers of the caller,
its request id, and the X-Forwarded-* set describing the original request."""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from services.gateway.hop_by_hop import end_to_end
from shared.middleware import REQUEST_ID_HEADER, request_id_of
from shared.principal import PRINCIPAL_HEADER

__all__ = ["upstream_request_headers"]

# Host is the upstream's own; the caller's goes in X-Forwarded-Host. Our own request
# id replaces whatever the caller sent (it may have been refused as unsafe). Expect
# was answered by our own server already; upstream it would only stall the body.
# The principal is ours to say: a caller's own value is dropped.
_REPLACED = (
    "host",
    REQUEST_ID_HEADER,
    PRINCIPAL_HEADER,
    "x-forwarded-host",
    "x-forwarded-proto",
    "expect",
)


def upstream_request_headers(
    request: web.Request, trusted_proxy_hops: int, principal: str
) -> CIMultiDict[str]:
    """Headers for the upstream request, `principal` being who it acts for."""
    headers = end_to_end(request.headers, drop=_REPLACED)
    headers[REQUEST_ID_HEADER] = request_id_of(request)
    headers[PRINCIPAL_HEADER] = principal
    peer = request.remote or "unknown"
    prior = ", ".join(request.headers.getall("X-Forwarded-For", []))
    if trusted_proxy_hops > 0:
        # Behind trusted proxies: keep the chain they built and add the last hop.
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
        proto = request.headers.get("X-Forwarded-Proto", request.scheme)
        host = request.headers.get("X-Forwarded-Host", request.host)
    else:
        # We are the edge: anything the caller claimed about earlier hops is untrusted.
        headers["X-Forwarded-For"] = peer
        proto = request.scheme
        host = request.host
    headers["X-Forwarded-Proto"] = proto
    headers["X-Forwarded-Host"] = host
    return headers
