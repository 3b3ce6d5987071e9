"""The model registry interface, shaped after the SageMaker Model Registry.

| method                      | SageMaker API                                              |
|-----------------------------|------------------------------------------------------------|
| `create_group(group)`       | CreateModelPackageGroup(ModelPackageGroupName)             |
| `register(group, dir, ...)` | CreateModelPackage(ModelPackageGroupName, InferenceSpecification |
|                             |   with ModelDataUrl = the artifact's model.tar.gz in S3,   |
|                             |   ModelApprovalStatus, ModelMetrics, CustomerMetadataProperties |
|                             |   for the lineage) -> ModelPackageVersion                   |
| `set_status(g, v, status)`  | UpdateModelPackage(ModelPackageArn, ModelApprovalStatus,   |
|                             |   ApprovalDescription)                                     |
| `list_versions(group)`      | ListModelPackages(ModelPackageGroupName, SortBy=CreationTime) |
| `get_version(group, version)` | DescribeModelPackage(ModelPackageName=arn of group/version) |
| `artifact_location(model)`  | the package's ModelDataUrl (`s3://.../model.tar.gz`)       |
| `deployment()`, `record_deployment`, `record_rollback` | no registry API: on AWS the |
|                             |   deployed version is the endpoint config's model          |
|                             |   (DescribeEndpoint); the previous one is kept as a tag    |

Versions count from 1 per group, as SageMaker's ModelPackageVersion does. Statuses are
SageMaker's: PendingManualApproval, Approved, Rejected; only Approved versions deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from services.pipeline.registry.records import (
    ApprovalStatus,
    DeploymentRecord,
    DeploymentState,
    Lineage,
    ModelVersion,
)

__all__ = ["ModelRegistry"]


class ModelRegistry(Protocol):
    """Model versions with approval status, metrics and lineage, and the deployment."""

    def create_group(self, group: str, description: str = "") -> None:
        """Create the group if missing (idempotent)."""

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
        """Store a copy of the artifact as the group's next version."""
        ...

    def set_status(
        self, group: str, version: int, status: ApprovalStatus, reason: str | None = None
    ) -> ModelVersion:
        """Approve or reject a version."""
        ...

    def list_versions(self, group: str | None = None) -> list[ModelVersion]:
        """Versions (of one group, or all), oldest first."""
        ...

    def get_version(self, group: str, version: int) -> ModelVersion:
        """One version; raises RegistryError when unknown."""
        ...

    def artifact_dir(self, model: ModelVersion) -> Path:
        """The absolute folder of a version's artifact."""
        ...

    def artifact_location(self, model: ModelVersion) -> str:
        """Where a version's artifact is, for people: a folder, or an S3 URI."""
        ...

    def deployment(self) -> DeploymentState:
        """What is deployed now and before."""
        ...

    def record_deployment(self, model: ModelVersion) -> DeploymentRecord:
        """Mark `model` deployed; the one it replaces goes on the history."""
        ...

    def record_rollback(self) -> DeploymentRecord:
        """Make the previous deployment current again; raises RegistryError if none."""
        ...
