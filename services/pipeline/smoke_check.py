"""The post-deploy smoke test: the artifact's smoke set through the live endpoint.

Each image goes through aioboto3's `sagemaker-runtime` `invoke_endpoint` with the
model server as `endpoint_url` — the path WAS takes — and must come back with its label
from the expected model version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aioboto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from services.model.train.api import SmokeSet, load_smoke_set
from services.pipeline.settings import PipelineSettings
from shared.aws_config import AwsClientConfig
from shared.contracts.prediction import JSON_CONTENT_TYPE, Prediction
from shared.logging import get_logger

__all__ = ["SmokeResult", "run_smoke_test"]

_log = get_logger("kkot.pipeline.smoke")


@dataclass
class SmokeResult:
    """How the smoke set came back."""

    total: int = 0
    correct: int = 0
    required: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.correct >= self.required and not (self.total and self.correct == 0)


def _session(settings: PipelineSettings) -> aioboto3.Session:
    # A local model server checks no signature, but botocore insists on credentials.
    return aioboto3.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=settings.region
    )


async def run_smoke_test(
    settings: PipelineSettings,
    artifact_dir: Path,
    expected_version: str,
    smoke: SmokeSet | None = None,
) -> SmokeResult:
    """Classify the smoke set through the endpoint; a result, never an exception."""
    smoke = smoke if smoke is not None else load_smoke_set(artifact_dir)
    result = SmokeResult()
    if smoke is None or not smoke.cases:
        _log.info("smoke_test_skipped", reason="the artifact has no smoke set")
        return result
    result.total = len(smoke.cases)
    result.required = smoke.min_correct
    # One call per image: `max_attempts=1` here used to mean one retry.
    config = AwsClientConfig(
        attempts=1,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.request_timeout_s,
    ).for_aioboto3()
    async with _session(settings).client(
        "sagemaker-runtime", endpoint_url=settings.endpoint_url, config=config
    ) as client:
        for case in smoke.cases:
            body = (artifact_dir / case.file).read_bytes()
            try:
                response = await client.invoke_endpoint(
                    EndpointName=settings.endpoint_name,
                    Body=body,
                    ContentType=case.content_type,
                    Accept=JSON_CONTENT_TYPE,
                )
                prediction = Prediction.model_validate_json(await response["Body"].read())
            except (BotoCoreError, ClientError, ValidationError) as exc:
                result.failures.append(f"{case.file}: endpoint error {type(exc).__name__}: {exc}")
                continue
            top = prediction.top_k[0].label if prediction.top_k else None
            if prediction.model_version != expected_version:
                result.failures.append(
                    f"{case.file}: answered by model version {prediction.model_version}, "
                    f"expected {expected_version}"
                )
            elif top != case.label:
                result.failures.append(f"{case.file}: got {top}, expected {case.label}")
            else:
                result.correct += 1
    _log.info(
        "smoke_test_finished",
        correct=result.correct,
        total=result.total,
        passed=result.passed,
        failures=result.failures[:5],
    )
    return result
