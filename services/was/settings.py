"""WAS settings (environment prefix ``KKOT_WAS_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.contracts.model import Language
from shared.events import BusBackend
from shared.settings import ServiceSettings

__all__ = ["WasSettings"]


class WasSettings(ServiceSettings):
    """How WAS listens, stores, and reaches the model endpoint."""

    model_config = SettingsConfigDict(env_prefix="KKOT_WAS_", extra="ignore", frozen=True)

    port: int = Field(8081, ge=0, le=65535)
    data_dir: Path = Path("var/was")

    # "local": a SageMaker-compatible model server at `endpoint_url` (which also
    # serves /admin/model and /ping); "aws": the real SageMaker Runtime, and
    # `endpoint_url` is ignored.
    mode: Literal["local", "aws"] = "local"
    endpoint_name: str = Field("kkot-flowers", min_length=1, max_length=63)
    endpoint_url: str | None = "http://127.0.0.1:8082"
    region: str = "us-east-1"

    connect_timeout_s: float = Field(1.0, gt=0, le=60)
    read_timeout_s: float = Field(10.0, gt=0, le=120)
    # Total tries per call (1 = no retry); botocore's own retries are switched off.
    endpoint_max_attempts: int = Field(3, ge=1, le=10)
    retry_base_delay_s: float = Field(0.05, ge=0, le=10)
    retry_max_delay_s: float = Field(1.0, ge=0, le=60)
    breaker_failure_threshold: int = Field(3, ge=1, le=100)
    breaker_reset_timeout_s: float = Field(10.0, gt=0, le=600)

    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=1024)
    top_k: int = Field(5, ge=1, le=50)
    languages: tuple[Language, ...] = ("ko", "en")
    default_language: Language = "en"

    # Background jobs (`Prefer: respond-async`) run this many at a time, so the model
    # server can batch them.
    background_concurrency: int = Field(4, ge=1, le=64)

    bus_backend: BusBackend = "memory"
    store_backend: Literal["sqlite"] = "sqlite"
    blob_backend: Literal["local"] = "local"

    @model_validator(mode="after")
    def _endpoint_url_only_locally(self) -> WasSettings:
        if self.mode == "local" and not self.endpoint_url:
            raise ValueError("local mode needs endpoint_url (the local model server)")
        if self.default_language not in self.languages:
            raise ValueError("default_language must be one of languages")
        return self

    @property
    def local_endpoint_url(self) -> str | None:
        """The model server's URL in local mode; None on AWS (the real SageMaker Runtime)."""
        return self.endpoint_url.rstrip("/") if self.mode == "local" and self.endpoint_url else None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "classifications.sqlite3"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"
