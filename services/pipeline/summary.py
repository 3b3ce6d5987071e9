"""What `kkot pipeline run` reports: one `RunSummary`, printed as JSON on stdout.

It stays inside the pipeline package (the CLI prints it, tests and bench/ read it), so
it lives here rather than in shared/contracts, which holds what services send each other.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.pipeline.registry import ApprovalStatus
from shared.contracts.model import ClassMetrics

__all__ = [
    "BaselineSummary",
    "ConditionSummary",
    "DeployFailed",
    "DeploySkipped",
    "Deployed",
    "EmbeddingSummary",
    "EvaluationSummary",
    "RunStatus",
    "RunSummary",
    "SmokeTestSummary",
    "ValidationSummary",
]


class _Summary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunStatus(StrEnum):
    """How a run ended."""

    REJECTED = "rejected"  # the condition failed
    REGISTERED = "registered"  # registered, not deployed (--no-deploy or pending approval)
    DEPLOYED = "deployed"  # live on the model server, smoke test passed
    DEPLOYED_RECORDED = "deployed-recorded"  # no server running: the next `kkot run` serves it
    DEPLOY_FAILED = "deploy-failed"  # the deploy failed and was rolled back


class EvaluationSummary(_Summary):
    """The new model's held-out evaluation."""

    accuracy: float
    accuracy_ci95: tuple[float, float] | None
    method: str | None
    samples: int
    misclassified: int = Field(description="listed, most confident first, in misclassified.json")
    per_class: dict[str, ClassMetrics]


class BaselineSummary(_Summary):
    """The deployed model and the new one on the same held-out images (when fair)."""

    source: str = Field(description="registry, model server, or none")
    version: str | None
    accuracy: float | None = Field(description="the deployed model's; None: no fair baseline")
    new_accuracy: float | None = None
    images: int = 0
    note: str = Field(description="which images, or why there is no baseline")


class ConditionSummary(_Summary):
    """The deploy condition (shared.deploy_condition) on this run."""

    passed: bool
    min_accuracy: float
    reasons: list[str]
    baseline: BaselineSummary


class OverridesSummary(_Summary):
    """What a label-overrides file changed (the model card lists each photo)."""

    digest: str
    decisions: int
    relabelled: int
    excluded: int
    kept: int
    unmatched: int


class ValidationSummary(_Summary):
    """What the data check used and dropped."""

    class_counts: dict[str, int]
    train: int
    evaluation: int
    skipped: int
    duplicates_dropped: int
    evaluation_duplicates_removed: int
    dataset_digest: str
    overrides: OverridesSummary | None = None


class SmokeTestSummary(_Summary):
    correct: int
    total: int
    passed: bool


class Deployed(_Summary):
    """A deploy or rollback that ran (live, or recorded for the next start)."""

    group: str
    version: int
    live: bool
    message: str
    previous_version: str | None
    smoke_test: SmokeTestSummary | None


class DeploySkipped(_Summary):
    skipped: str = Field(description="why no deploy was tried")


class DeployFailed(_Summary):
    failed: str = Field(description="why the deploy failed (rolled back)")


class EmbeddingSummary(_Summary):
    images: int
    images_per_s: float


class RunSummary(_Summary):
    """The result of `kkot pipeline run`."""

    status: RunStatus
    group: str
    version: int
    approval_status: ApprovalStatus
    metrics: dict[str, float]
    evaluation: EvaluationSummary
    condition: ConditionSummary
    validation: ValidationSummary
    deploy: Deployed | DeploySkipped | DeployFailed
    model_dir: str
    timings: dict[str, float]
    embedding: EmbeddingSummary
