"""Gateway settings (environment prefix ``KKOT_GATEWAY_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.limits import ENVELOPE_BYTES, MAX_UPLOAD_BYTES
from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Where the upstreams are and how the edge protects them."""

    model_config = SettingsConfigDict(env_prefix="KKOT_GATEWAY_", extra="ignore", frozen=True)

    port: int = 8080
    was_url: str = "http://127.0.0.1:8081"
    web_url: str = "http://127.0.0.1:8000"
    # Largest request body accepted, in bytes (checked up front and while streaming).
    # The one photo limit plus room for the multipart envelope (shared.limits).
    max_body_bytes: int = Field(MAX_UPLOAD_BYTES + ENVELOPE_BYTES, ge=1)
    # Token bucket per client: `rate_capacity` requests in a burst, refilled at
    # `rate_refill_per_s`; 0 capacity turns rate limiting off.
    rate_capacity: float = Field(120.0, ge=0)
    rate_refill_per_s: float = Field(30.0, gt=0)
    # Bound on remembered clients; the least recently seen are forgotten first.
    rate_max_clients: int = Field(10_000, ge=1)
    # How many proxies in front of the gateway append to X-Forwarded-For (the ALB is one);
    # 0 means the socket's peer address is the client.
    trusted_proxy_hops: int = Field(0, ge=0)
    # API keys required on `/api/*` when not empty (`X-API-Key` or `Authorization: Bearer`).
    api_keys: frozenset[SecretStr] = frozenset()
    connect_timeout_s: float = Field(3.0, gt=0)
    # Longest silence while reading an upstream answer (SSE heartbeats keep streams alive).
    upstream_timeout_s: float = Field(60.0, gt=0)
    # Connection pool towards the upstreams (keep-alive; shared by every request).
    pool_limit: int = Field(256, ge=1)
    pool_limit_per_host: int = Field(128, ge=1)
