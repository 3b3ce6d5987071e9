"""WAS's public API: classification records, feedback, pages of records, and the
tutorial's `/classify/image` answer kept compatible."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.model import Evaluation, ExamplePhoto, MisclassifiedPhoto


class ClassificationStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class ScoredLabel(Contract):
    """A top-k entry with its display text in the requested language."""

    label: str
    display_name: str
    score: float = Field(ge=0, le=1)


class ClassificationTiming(Contract):
    was_ms: float = Field(ge=0, description="time spent in WAS outside the endpoint call")
    endpoint_ms: float = Field(ge=0, description="round trip to the model endpoint")
    model_ms: float | None = Field(None, ge=0, description="the endpoint's own server time")


class ClassificationRecord(Contract):
    """A stored classification, as the API returns it."""

    id: str
    status: ClassificationStatus
    created_at: datetime
    completed_at: datetime | None = None
    filename: str | None = None
    content_type: str
    image_url: str
    label: str | None = None
    display_name: str | None = None
    description: str | None = None
    confidence: float | None = Field(None, ge=0, le=1)
    top_k: list[ScoredLabel] = Field(default_factory=list)
    model_name: str | None = None
    model_version: str | None = None
    timing: ClassificationTiming | None = None
    error: str | None = None
    feedback_label: str | None = None
    feedback_at: datetime | None = None
    # Who gave the correction (an access principal: "anonymous" or "key:<hash>").
    feedback_by: str | None = None
    # The record's version (its ETag): send it as If-Match to replace a correction.
    version: int = 0


class ClassificationPage(Contract):
    items: list[ClassificationRecord]
    next_cursor: str | None = None


class FeedbackRequest(Contract):
    """ "This was actually <label>": validated against the deployed model's labels."""

    label: str = Field(min_length=1, max_length=200)


class TutorialResult(Contract):
    """The tutorial's `{"result": {"no", "name", "acc", "description"}}` shape."""

    no: int
    name: str
    acc: float
    description: str


class TutorialResponse(Contract):
    result: TutorialResult


class LabelInfo(Contract):
    label: str
    display_name: str
    description: str


class LabelsResponse(Contract):
    model_version: str
    labels: list[LabelInfo]


class CurrentModel(Contract):
    """The deployed model: what it is, how it was evaluated, and pictures of it."""

    name: str
    version: str
    num_classes: int
    source: str
    created_at: datetime
    metrics: dict[str, float] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)
    evaluation: Evaluation | None = None
    examples: list[ExamplePhoto] = Field(default_factory=list)
    misclassified: list[MisclassifiedPhoto] = Field(default_factory=list)


class RegisteredVersion(Contract):
    """One version of the model registry, for the history of accuracy over time."""

    name: str = Field(description="the registry group, which is the served model's name")
    version: str
    status: str = Field(description="Approved, Rejected or PendingManualApproval")
    created_at: datetime
    accuracy: float | None = Field(None, ge=0, le=1)
    deployed: bool = False


class ModelVersions(Contract):
    """Every registered version, oldest first (empty where no registry is configured)."""

    versions: list[RegisteredVersion]


class DependencyHealth(Contract):
    name: str
    ok: bool
    detail: str = ""
    latency_ms: float | None = None


class ReadinessResponse(Contract):
    ready: bool
    dependencies: list[DependencyHealth]
