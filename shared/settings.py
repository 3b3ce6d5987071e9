"""Settings common to every service.

Each service declares one pydantic-settings class that derives from
`ServiceSettings` and gives it its own environment prefix (all under ``KKOT_``),
so that several services can run in one process without their `port` or
`log_level` colliding. Settings are read when a service starts, never at import.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LogFormat = Literal["auto", "json", "console"]


class ServiceSettings(BaseSettings):
    """Fields every HTTP service has; subclasses set `env_prefix` and `port`."""

    model_config = SettingsConfigDict(env_prefix="KKOT_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8080
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # "auto": readable console output on a terminal, JSON lines otherwise.
    log_format: LogFormat = "auto"
    # CloudWatch embedded-metric-format lines in the log (on AWS, where awslogs ships the
    # log to CloudWatch, which turns them into metrics); /metrics is served either way.
    metrics_emf: bool = False
    metrics_namespace: str = Field("kkot", min_length=1, max_length=255)
    metrics_emf_interval_s: float = Field(60.0, gt=0, le=3600)
