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
    # Bodies up to this size (a declared request Content-Length, an upstream answer's)
    # are read whole and sent on in one write, as nginx buffers; larger ones and
    # streams go chunk by chunk. A slow upload then holds no upstream slot.
    proxy_buffer_bytes: int = Field(1024 * 1024, ge=0)
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
    # Signs browser sessions made from a key on /login; set the same value on every
    # gateway instance (else each makes a random one and sessions end on restart).
    session_secret: SecretStr | None = None
    session_ttl_s: int = Field(12 * 3600, ge=60, le=30 * 24 * 3600)
    # Opening a new TCP connection to an upstream (not the wait for a pooled one).
    connect_timeout_s: float = Field(3.0, gt=0)
    # Longest silence while reading an upstream answer (SSE heartbeats keep streams alive).
    upstream_timeout_s: float = Field(60.0, gt=0)
    # Connections towards each upstream, one pool per kind of traffic (keep-alive).
    was_pool_limit: int = Field(512, ge=1)
    web_pool_limit: int = Field(256, ge=1)
    # The wait for a free connection of a pool before answering 503 (the request was
    # not sent, so it is safe to retry).
    pool_wait_timeout_s: float = Field(30.0, gt=0)
    # Origins (e.g. "https://app.example") whose pages may call the API; empty: none.
    cors_allow_origins: frozenset[str] = frozenset()
    cors_max_age_s: int = Field(600, ge=0, le=86_400)
    # Live-history streams (`/events`): their own pool, a total and a per-client cap.
    max_streams: int = Field(256, ge=1)
    max_streams_per_client: int = Field(8, ge=1)
    # The gateway's own /metrics is served on this port only (on `host`), never on the
    # public one; unset: not served. `kkot run` and the ECS task use 9080.
    metrics_port: int | None = Field(None, ge=1, le=65535)
