"""The gateway's own liveness check (it does not probe the upstreams: `/api/v1/...`
and the status page do that)."""

from __future__ import annotations

from aiohttp import web


async def health(_request: web.Request) -> web.Response:
    """200 while the gateway serves."""
    return web.json_response({"status": "ok", "service": "gateway"})
