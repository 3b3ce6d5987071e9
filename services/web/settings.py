"""Web settings (environment prefix ``KKOT_WEB_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.contracts.model import Language
from shared.events import BusBackend
from shared.limits import MAX_UPLOAD_BYTES
from shared.settings import ServiceSettings


class WebSettings(ServiceSettings):
    """Where WAS is, how live updates arrive and how the pages behave."""

    model_config = SettingsConfigDict(env_prefix="KKOT_WEB_", extra="ignore", frozen=True)

    port: int = 8000
    was_url: str = "http://127.0.0.1:8081"
    default_language: Language = "en"
    # "bus": classification events from the event bus: the process's shared one
    # (`kkot run`), or with bus_backend "aws" EventBridge through a queue of this task's
    # own (every web task hears every event); "poll": poll WAS's list endpoint.
    events_source: Literal["bus", "poll"] = "bus"
    bus_backend: BusBackend = "memory"
    event_bus_name: str | None = Field(None, min_length=1, max_length=256)
    region: str = "us-east-1"
    # Only for an AWS emulator (moto); None means the real AWS endpoints.
    aws_endpoint_url: str | None = None
    events_wait_time_s: int = Field(20, ge=0, le=20)
    poll_interval_s: float = Field(2.0, gt=0)
    sse_heartbeat_s: float = Field(15.0, gt=0)
    # A live stream with no event for this long ends (its EventSource reconnects).
    sse_idle_timeout_s: float = Field(600.0, gt=0)
    # Events buffered per live client before that client is dropped (it reconnects).
    sse_queue_size: int = Field(32, ge=1)
    sse_max_clients: int = Field(500, ge=1)
    history_page_size: int = Field(24, ge=1, le=100)
    # Connections towards WAS (pages and the form route; live streams hold none).
    was_pool_limit: int = Field(256, ge=1)
    max_upload_bytes: int = Field(MAX_UPLOAD_BYTES, ge=1024)
    was_timeout_s: float = Field(30.0, gt=0)
    static_max_age_s: int = Field(86_400, ge=0)
    # The Review page: the review set `kkot data review --out DIR` wrote, and the label
    # overrides file its decisions go to (default DIR/label_overrides.json).
    review_dir: Path = Path("var/review")
    overrides_file: Path | None = None

    @model_validator(mode="after")
    def _aws_bus_needs_its_name(self) -> WebSettings:
        if self.bus_backend == "aws" and not self.event_bus_name:
            raise ValueError("bus_backend aws needs event_bus_name")
        return self
