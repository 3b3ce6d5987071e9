"""Settings of the model server (environment prefix ``KKOT_MODEL_``).

SageMaker's own variables are honoured too: `SM_MODEL_DIR` for the artifact folder and
`SAGEMAKER_BIND_TO_PORT` for the port, so the same image runs unchanged in an endpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from shared.contracts.prediction import (
    SAGEMAKER_INVOCATION_TIMEOUT_S,
    SAGEMAKER_MAX_PAYLOAD_BYTES,
)
from shared.settings import ServiceSettings

__all__ = ["DEFAULT_MODEL_DIR", "ModelServerSettings", "usable_cpus"]

DEFAULT_MODEL_DIR = Path("/opt/ml/model")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, which a container's cpuset narrows;
    `os.cpu_count()` would count the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class ModelServerSettings(ServiceSettings):
    """How the model server listens, batches and guards its inputs."""

    model_config = SettingsConfigDict(env_prefix="KKOT_MODEL_", extra="ignore", frozen=True)

    port: int = Field(
        8080,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("KKOT_MODEL_PORT", "SAGEMAKER_BIND_TO_PORT", "port"),
    )
    model_dir: Path = Field(
        DEFAULT_MODEL_DIR,
        validation_alias=AliasChoices("KKOT_MODEL_DIR", "SM_MODEL_DIR", "model_dir"),
    )
    # Dynamic batching: a batch runs when it is full or when its first request has
    # waited this long, whichever comes first. Bigger batches were no faster per image
    # on CPU here (bench/bench_model.py) and cost latency.
    max_batch_size: int = Field(8, ge=1, le=256)
    max_batch_wait_ms: float = Field(2.0, ge=0, le=1000)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # SageMaker's own limits on the Runtime API path (`/endpoints/{name}/invocations`),
    # so that what AWS would refuse is refused here too; the container path keeps
    # `max_body_bytes` (SageMaker enforces its limits before the container).
    runtime_max_payload_bytes: int = Field(SAGEMAKER_MAX_PAYLOAD_BYTES, ge=1024)
    runtime_timeout_s: float = Field(SAGEMAKER_INVOCATION_TIMEOUT_S, gt=0, le=3600)
    max_pixels: int = Field(40_000_000, ge=1024)
    # Batches that run at once, each a single-threaded ONNX Runtime call (0 = one per
    # usable CPU): side-by-side calls keep a small CPU busier than one wide call.
    inference_workers: int = Field(0, ge=0, le=64)
    # Threads of the extra session a lone request may use (0 = ONNX Runtime's choice,
    # one per core; 1 = no extra session). It wins on an idle machine and loses on a
    # busy one, so the server measures both and takes the faster (onnx_session.py).
    intra_op_threads: int = Field(0, ge=0, le=64)
    # Decode/preprocess threads; ONNX Runtime has its own pool.
    decode_threads: int = Field(2, ge=1, le=64)
    default_top_k: int = Field(5, ge=1, le=1000)
    # The local deploy swaps models through /admin/model; turn it off where the
    # endpoint is reachable by others (SageMaker swaps by endpoint update instead).
    admin_enabled: bool = True
    # Echoed as x-Amzn-Invoked-Production-Variant, as SageMaker does ("AllTraffic" is
    # the variant name the console and SDK default to).
    variant_name: str = "AllTraffic"

    def resolved_inference_workers(self) -> int:
        """`inference_workers`, with 0 meaning one per CPU this process may use."""
        if self.inference_workers:
            return self.inference_workers
        return usable_cpus()
