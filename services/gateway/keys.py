"""Typed application state of the gateway."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from services.gateway.paths import NormalPath
from services.gateway.ratelimit import RateLimiter
from services.gateway.settings import GatewaySettings
from services.gateway.upstreams import Upstreams

SETTINGS = web.AppKey("settings", GatewaySettings)
UPSTREAMS = web.AppKey("upstreams", Upstreams)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
# Upstream answers being relayed right now; closed on shutdown so long streams (SSE)
# end at once instead of holding the server for its whole shutdown timeout.
STREAMS = web.AppKey("streams", set[aiohttp.ClientResponse])
# The request's one normal path: routing, keys and forwarding all read it.
NORMAL_PATH = web.RequestKey("normal_path", NormalPath)
# The key that signs browser sessions (the configured one, else random per process).
SESSION_SECRET = web.AppKey("session_secret", bytes)
