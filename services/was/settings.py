"""WAS settings (environment prefix ``KKOT_WAS_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.contracts.model import Language
from shared.events import BusBackend
from shared.limits import MAX_UPLOAD_BYTES
from shared.settings import ServiceSettings
from shared.storage.s3 import ServerSideEncryption

__all__ = ["WasSettings"]


class WasSettings(ServiceSettings):
    """How WAS listens, stores, and reaches the model endpoint."""

    model_config = SettingsConfigDict(env_prefix="KKOT_WAS_", extra="ignore", frozen=True)

    port: int = Field(8081, ge=0, le=65535)
    data_dir: Path = Path("var/was")

    # "local": a kkot model server at `endpoint_url`, reached through its SageMaker
    # Runtime API path exactly as SageMaker is (its /ping feeds /ready); "aws": the
    # real SageMaker Runtime, and `endpoint_url` is ignored. Independent of the
    # store, blob and bus backends below (the AWS emulator runs "local" with AWS ones).
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

    max_upload_bytes: int = Field(MAX_UPLOAD_BYTES, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=1024)
    top_k: int = Field(5, ge=1, le=50)
    languages: tuple[Language, ...] = ("ko", "en")
    default_language: Language = "en"

    # Background jobs (`Prefer: respond-async`) run this many at a time, so the model
    # server can batch them.
    background_concurrency: int = Field(4, ge=1, le=64)
    # The local model registry (`kkot pipeline`'s folder) whose versions the model page
    # charts; None where there is none to read (containers, AWS): no history then.
    registry_dir: Path | None = None

    # Accepted jobs: tries per job before it ends `failed`; how often pending jobs are
    # looked for, and after how long a pending job counts as lost (longer than any
    # job runs: the endpoint's read timeout times its attempts, with margin).
    job_max_attempts: int = Field(3, ge=1, le=20)
    # Re-announce jobs left pending by an earlier run when WAS starts (on SQS the queue
    # redelivers them too; off only to test that redelivery alone finishes them).
    job_resume_on_start: bool = True
    job_sweep_interval_s: float = Field(30.0, gt=0)
    job_stale_after_s: float = Field(120.0, gt=0)

    # Records and their photos older than this are deleted (None: kept forever).
    retention_days: float | None = Field(90.0, gt=0)
    retention_sweep_interval_s: float = Field(3600.0, gt=0)

    bus_backend: BusBackend = "memory"
    store_backend: Literal["sqlite", "dynamodb"] = "sqlite"
    blob_backend: Literal["local", "s3"] = "local"
    # What the local stores (SQLite records, photo files) survive once a request is
    # answered. "process": a crash of any process (kill -9; the kernel still holds the
    # writes), kkot's promise, with SQLite's WAL at synchronous=NORMAL and photos
    # written without fsync. "power": also a power cut or kernel crash (synchronous=FULL
    # and an fsync per photo), for more CPU and disk work per photo.
    # One setting for both stores: a record is only as durable as its photo.
    local_durability: Literal["process", "power"] = "process"

    # The AWS backends (names from the data-and-events stack's exports).
    table_name: str | None = Field(None, min_length=3, max_length=255)
    images_bucket: str | None = Field(None, min_length=3, max_length=63)
    images_sse: ServerSideEncryption = "aws:kms"
    # The stage's data key; without it S3 would encrypt with the account's aws/s3 key.
    images_kms_key_id: str | None = None
    event_bus_name: str | None = Field(None, min_length=1, max_length=256)
    # WAS's one queue: both of its consumers (classifier, model info) read it.
    events_queue_url: str | None = None
    events_max_receive_count: int = Field(5, ge=1, le=20)  # the queue's redrive setting
    events_wait_time_s: int = Field(20, ge=0, le=20)
    events_retry_visibility_s: int = Field(5, ge=0, le=43_200)
    # Only for an AWS emulator (moto, localstack); None means the real AWS endpoints.
    aws_endpoint_url: str | None = None

    @model_validator(mode="after")
    def _endpoint_url_only_locally(self) -> WasSettings:
        if self.mode == "local" and not self.endpoint_url:
            raise ValueError("local mode needs endpoint_url (the local model server)")
        if self.default_language not in self.languages:
            raise ValueError("default_language must be one of languages")
        if self.store_backend == "dynamodb" and not self.table_name:
            raise ValueError("store_backend dynamodb needs table_name")
        if self.blob_backend == "s3" and not self.images_bucket:
            raise ValueError("blob_backend s3 needs images_bucket")
        if self.bus_backend == "aws" and not (self.event_bus_name and self.events_queue_url):
            raise ValueError("bus_backend aws needs event_bus_name and events_queue_url")
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
