"""`ModelRegistry` on the SageMaker Model Registry (model package group + model packages).

| registry                  | SageMaker                                                   |
|---------------------------|-------------------------------------------------------------|
| group                     | model package group (CreateModelPackageGroup)               |
| version N                 | model package, ModelPackageVersion N of the group           |
| the artifact              | `model.tar.gz` in the models bucket, the package's          |
|                           |   InferenceSpecification ModelDataUrl (with the model image)|
| status                    | ModelApprovalStatus (+ ApprovalDescription for the reason)  |
| metrics                   | ModelMetrics.ModelQuality.Statistics: a JSON report in S3;  |
|                           |   also `metric:<name>` customer metadata, to list without S3|
| lineage                   | `lineage:<field>` customer metadata properties              |

boto3, synchronous, like the local backend: these are short command-line calls with no
event loop to block, so the interface stays as it is.

Deploying is not a registry call: on AWS the endpoint's config says what serves (the
release command updates it), so `deployment()` reports nothing deployed here and
`record_*`/`artifact_dir` refuse with the command to use instead.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from services.pipeline.errors import RegistryError
from services.pipeline.registry.records import (
    ApprovalStatus,
    DeploymentRecord,
    DeploymentState,
    Lineage,
    ModelVersion,
)
from services.pipeline.settings import PipelineSettings
from shared.aws_config import AwsClientConfig
from shared.contracts.model import MODEL_FILE
from shared.contracts.prediction import JSON_CONTENT_TYPE
from shared.image_formats import ACCEPTED_MIME_TYPES

__all__ = ["SageMakerRegistry", "sagemaker_registry"]

_METRIC = "metric:"
_LINEAGE = "lineage:"


class SageMakerRegistry:
    """`ModelRegistry` backed by SageMaker; artifacts go to `bucket` under `prefix`."""

    def __init__(
        self,
        sagemaker: Any,
        s3: Any,
        *,
        bucket: str | None,
        image_uri: str = "kkot-model:latest-not-used-locally",
        prefix: str = "registry",
    ) -> None:
        self._sm = sagemaker
        self._s3 = s3
        self._bucket = bucket
        self._image_uri = image_uri
        self._prefix = prefix

    # -- groups and versions ---------------------------------------------------------

    def create_group(self, group: str, description: str = "") -> None:
        try:
            self._sm.describe_model_package_group(ModelPackageGroupName=group)
            return
        except ClientError as exc:
            if not _missing(exc):
                raise _error(exc) from exc
        try:
            self._sm.create_model_package_group(
                ModelPackageGroupName=group,
                ModelPackageGroupDescription=description or f"kkot model {group}",
            )
        except ClientError as exc:
            raise _error(exc) from exc

    def register(
        self,
        group: str,
        artifact_dir: Path,
        *,
        status: ApprovalStatus,
        metrics: dict[str, float],
        lineage: Lineage,
        status_reason: str | None = None,
    ) -> ModelVersion:
        artifact_dir = Path(artifact_dir)
        if not (artifact_dir / MODEL_FILE).exists():
            raise RegistryError(f"{artifact_dir} is not a model artifact (no {MODEL_FILE})")
        if not self._bucket:
            raise RegistryError("registering needs the models bucket (KKOT_PIPELINE_MODELS_BUCKET)")
        self.create_group(group)
        key = f"{self._prefix}/{group}/{uuid.uuid4().hex}"
        try:
            self._s3.put_object(
                Bucket=self._bucket, Key=f"{key}/model.tar.gz", Body=_tar(artifact_dir)
            )
            self._s3.put_object(
                Bucket=self._bucket,
                Key=f"{key}/metrics.json",
                Body=json.dumps(metrics).encode(),
                ContentType="application/json",
            )
            request: dict[str, Any] = {
                "ModelPackageGroupName": group,
                "ModelPackageDescription": f"kkot {group}",
                "ModelApprovalStatus": status.value,
                "InferenceSpecification": {
                    "Containers": [
                        {
                            "Image": self._image_uri,
                            "ModelDataUrl": f"s3://{self._bucket}/{key}/model.tar.gz",
                        }
                    ],
                    "SupportedContentTypes": [*ACCEPTED_MIME_TYPES, JSON_CONTENT_TYPE],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                "ModelMetrics": {
                    "ModelQuality": {
                        "Statistics": {
                            "ContentType": "application/json",
                            "S3Uri": f"s3://{self._bucket}/{key}/metrics.json",
                        }
                    }
                },
                "CustomerMetadataProperties": _properties(metrics, lineage),
            }
            arn = self._sm.create_model_package(**request)["ModelPackageArn"]
            if status_reason:
                self._update(arn, status, status_reason)
            return self._version_of(self._sm.describe_model_package(ModelPackageName=arn))
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc

    def set_status(
        self, group: str, version: int, status: ApprovalStatus, reason: str | None = None
    ) -> ModelVersion:
        arn = self._arn(group, version)
        try:
            self._update(arn, status, reason)
            return self._version_of(self._sm.describe_model_package(ModelPackageName=arn))
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc

    def list_versions(self, group: str | None = None) -> list[ModelVersion]:
        groups = [group] if group else self.groups()
        versions: list[ModelVersion] = []
        for name in groups:
            for summary in self._summaries(name):
                described = self._sm.describe_model_package(
                    ModelPackageName=summary["ModelPackageArn"]
                )
                versions.append(self._version_of(described))
        return sorted(versions, key=lambda v: (v.group, v.version))

    def groups(self) -> list[str]:
        try:
            pages = self._sm.get_paginator("list_model_package_groups").paginate()
            return sorted(
                g["ModelPackageGroupName"]
                for page in pages
                for g in page["ModelPackageGroupSummaryList"]
            )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc

    def get_version(self, group: str, version: int) -> ModelVersion:
        try:
            return self._version_of(
                self._sm.describe_model_package(ModelPackageName=self._arn(group, version))
            )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc

    def artifact_location(self, model: ModelVersion) -> str:
        return model.model_dir  # the package's ModelDataUrl

    def artifact_dir(self, model: ModelVersion) -> Path:
        raise RegistryError(
            f"{model.group} version {model.version} lives in S3 ({model.model_dir}); "
            "release it to an endpoint with `kkot release model`"
        )

    # -- deployment: the endpoint's business on AWS -------------------------------------

    def deployment(self) -> DeploymentState:
        return DeploymentState()

    def record_deployment(self, model: ModelVersion) -> DeploymentRecord:
        raise RegistryError("on SageMaker a deploy is an endpoint update: `kkot release model`")

    def record_rollback(self) -> DeploymentRecord:
        raise RegistryError("on SageMaker a rollback is an endpoint update: `kkot release model`")

    # -- SageMaker -----------------------------------------------------------------------

    def _summaries(self, group: str) -> list[dict[str, Any]]:
        try:
            pages = self._sm.get_paginator("list_model_packages").paginate(
                ModelPackageGroupName=group, ModelPackageType="Versioned"
            )
            return [s for page in pages for s in page["ModelPackageSummaryList"]]
        except ClientError as exc:
            if _missing(exc):
                return []
            raise _error(exc) from exc

    def _arn(self, group: str, version: int) -> str:
        for summary in self._summaries(group):
            if int(summary.get("ModelPackageVersion", 0)) == version:
                return str(summary["ModelPackageArn"])
        known = ", ".join(str(s.get("ModelPackageVersion")) for s in self._summaries(group))
        raise RegistryError(f"{group} has no version {version} (versions: {known or 'none'})")

    def _update(self, arn: str, status: ApprovalStatus, reason: str | None) -> None:
        current = self._sm.describe_model_package(ModelPackageName=arn)
        self._sm.update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus=status.value,
            ApprovalDescription=reason or "",
            # Sent again: an update must not lose the metrics and lineage kept there.
            CustomerMetadataProperties=current.get("CustomerMetadataProperties") or {},
        )

    def _version_of(self, described: dict[str, Any]) -> ModelVersion:
        properties: dict[str, str] = described.get("CustomerMetadataProperties") or {}
        containers = described.get("InferenceSpecification", {}).get("Containers", [])
        lineage = {
            key[len(_LINEAGE) :]: value
            for key, value in properties.items()
            if key.startswith(_LINEAGE)
        }
        created = described.get("CreationTime") or datetime.now(UTC)
        updated = described.get("LastModifiedTime") or created
        return ModelVersion(
            group=described["ModelPackageGroupName"],
            version=int(described["ModelPackageVersion"]),
            status=ApprovalStatus(described["ModelApprovalStatus"]),
            status_reason=described.get("ApprovalDescription") or None,
            metrics={
                key[len(_METRIC) :]: float(value)
                for key, value in properties.items()
                if key.startswith(_METRIC)
            },
            lineage=Lineage.model_validate(lineage),
            model_dir=containers[0]["ModelDataUrl"] if containers else "",
            created_at=created,
            updated_at=updated,
        )


def sagemaker_registry(settings: PipelineSettings) -> SageMakerRegistry:
    """The SageMaker registry the pipeline settings point at (region, emulator, bucket)."""
    import boto3

    session = boto3.Session(region_name=settings.region)
    endpoint, config = settings.aws_endpoint_url, AwsClientConfig().for_boto3()
    return SageMakerRegistry(
        session.client("sagemaker", endpoint_url=endpoint, config=config),
        session.client("s3", endpoint_url=endpoint, config=config),
        bucket=settings.models_bucket,
    )


def _properties(metrics: dict[str, float], lineage: Lineage) -> dict[str, str]:
    properties = {f"{_METRIC}{name}": repr(float(value)) for name, value in metrics.items()}
    for name, value in lineage.model_dump(exclude_none=True).items():
        properties[f"{_LINEAGE}{name}"] = str(value)
    return properties


def _tar(artifact_dir: Path) -> bytes:
    """The artifact as SageMaker wants it: a gzip tar with the files at its root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(artifact_dir.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=str(path.relative_to(artifact_dir)))
    return buffer.getvalue()


def _missing(exc: ClientError) -> bool:
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    return "not found" in message or "does not exist" in message


def _error(exc: BaseException) -> RegistryError:
    return RegistryError(f"SageMaker Model Registry: {exc}")
