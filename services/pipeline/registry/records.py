"""The registry's records: a model version, its lineage, and the deployment state."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApprovalStatus",
    "DeploymentRecord",
    "DeploymentState",
    "GroupIndex",
    "Lineage",
    "ModelVersion",
]


def _now() -> datetime:
    return datetime.now(UTC)


class ApprovalStatus(StrEnum):
    """SageMaker's ModelApprovalStatus values, spelled the same."""

    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lineage(_Record):
    """Where a version came from."""

    dataset_digest: str | None = None
    data_dir: str | None = None
    eval_dir: str | None = None
    parent_version: int | None = Field(None, description="the version deployed when trained")
    code_version: str | None = None
    training_run: str | None = Field(None, description="the training job's own version id")
    overrides_digest: str | None = Field(None, description="sha256 of the label overrides")
    overrides_relabelled: int | None = Field(None, ge=0)
    overrides_excluded: int | None = Field(None, ge=0)


class ModelVersion(_Record):
    """One registered artifact (a SageMaker model package)."""

    group: str
    version: int = Field(ge=1)
    status: ApprovalStatus
    status_reason: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    model_dir: str = Field(description="artifact folder, relative to the registry root")
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)


class GroupIndex(_Record):
    """index.json of a group (a model package group)."""

    group: str
    description: str = ""
    created_at: datetime = Field(default_factory=_now)
    versions: list[ModelVersion] = Field(default_factory=list)


class DeploymentRecord(_Record):
    group: str
    version: int
    model_dir: str = Field(description="absolute path of the deployed artifact")
    deployed_at: datetime = Field(default_factory=_now)


class DeploymentState(_Record):
    """deployment.json: what the endpoint serves, and what it served before (newest last)."""

    current: DeploymentRecord | None = None
    history: list[DeploymentRecord] = Field(default_factory=list)
