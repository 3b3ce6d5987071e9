"""Settings of the pipeline commands (environment prefix ``KKOT_PIPELINE_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PipelineSettings"]


class PipelineSettings(BaseSettings):
    """Where the registry lives and how the model endpoint is reached."""

    model_config = SettingsConfigDict(env_prefix="KKOT_PIPELINE_", extra="ignore", frozen=True)

    registry_dir: Path = Path("var/registry")
    group: str = Field("kkot-flowers", min_length=1, max_length=63)
    # The local model server: its admin API swaps models, its Runtime API path answers
    # the smoke test exactly as it answers WAS.
    endpoint_url: str = "http://127.0.0.1:8082"
    endpoint_name: str = Field("kkot-flowers", min_length=1, max_length=63)
    region: str = "us-east-1"
    min_accuracy: float = Field(0.9, ge=0, le=1)
    # Approve automatically when the condition step passes (the condition is the gate);
    # --manual-approval registers as PendingManualApproval instead, as SageMaker would.
    auto_approve: bool = True
    swap_timeout_s: float = Field(120.0, gt=0, le=3600)
    request_timeout_s: float = Field(30.0, gt=0, le=600)
    connect_timeout_s: float = Field(2.0, gt=0, le=60)
    log_level: str = "info"
    # Where `model.deployed` goes: "memory" (this process only) or "aws" (EventBridge:
    # every running WAS task hears it; the AWS emulator sets these).
    # (spelled out, not shared.events.BusBackend: the training image has no aioboto3)
    bus_backend: Literal["memory", "aws"] = "memory"
    event_bus_name: str | None = Field(None, min_length=1, max_length=256)
    aws_endpoint_url: str | None = None
    # Which model registry `kkot models ...` uses: the local folder, or the SageMaker
    # Model Registry (model package group `group`, artifacts under `models_bucket`).
    registry_backend: Literal["local", "sagemaker"] = "local"
    models_bucket: str | None = None
