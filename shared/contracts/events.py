"""The event envelope and the typed payload of every event kind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.classification import ClassificationStatus
from shared.contracts.prediction import LabelScore


class EventType(StrEnum):
    CLASSIFICATION_REQUESTED = "classification.requested"
    CLASSIFICATION_COMPLETED = "classification.completed"
    CLASSIFICATION_FAILED = "classification.failed"
    CLASSIFICATION_DELETED = "classification.deleted"
    MODEL_REGISTERED = "model.registered"
    MODEL_DEPLOYED = "model.deployed"


class ClassificationRequested(Contract):
    """A background classification (`Prefer: respond-async`) to run; consumed by WAS's
    classifier through the `was` work queue (one task takes each). Synchronous requests
    send none: nobody needs them."""

    kind: Literal["classification.requested"] = "classification.requested"
    classification_id: str
    image_key: str
    content_type: str
    language: Literal["en", "ko"] = "en"
    # Always True now (kept so that events already in a queue still validate).
    background: bool = True


class ClassificationOutcome(Contract):
    """A finished classification as data: labels, scores and the model, never display
    text (each reader renders it in its own language from the model's catalog)."""

    classification_id: str
    status: ClassificationStatus
    created_at: datetime
    completed_at: datetime | None = None
    image_url: str
    content_type: str
    filename: str | None = None
    top_k: list[LabelScore] = Field(default_factory=list)
    model_name: str | None = None
    model_version: str | None = None
    error_code: str | None = None


class ClassificationCompleted(Contract):
    """Consumed by every web task (its own fan-out queue) for live history."""

    kind: Literal["classification.completed"] = "classification.completed"
    outcome: ClassificationOutcome


class ClassificationFailed(Contract):
    """Consumed by every web task for live history (a background job that failed)."""

    kind: Literal["classification.failed"] = "classification.failed"
    classification_id: str
    error: str = Field(description="for logs; readers show their own text for `code`")
    code: str | None = Field(None, description="the error code the API answered with")
    outcome: ClassificationOutcome | None = None


class ClassificationDeleted(Contract):
    """A record and its photo were deleted (by a person or the retention sweep);
    consumed by every web task so live history pages drop the item."""

    kind: Literal["classification.deleted"] = "classification.deleted"
    classification_id: str


class ModelRegistered(Contract):
    """Not sent: nothing in kkot consumes it (on AWS, the SageMaker Model Registry emits
    its own "Model Package State Change" events). Kept so old messages still validate."""

    kind: Literal["model.registered"] = "model.registered"
    model_name: str
    model_version: str
    status: str
    metrics: dict[str, float] = Field(default_factory=dict)


class ModelDeployed(Contract):
    """Consumed by every WAS task (its own fan-out queue): re-describe the endpoint."""

    kind: Literal["model.deployed"] = "model.deployed"
    model_name: str
    model_version: str
    previous_version: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


EventData = Annotated[
    ClassificationRequested
    | ClassificationCompleted
    | ClassificationFailed
    | ClassificationDeleted
    | ModelRegistered
    | ModelDeployed,
    Field(discriminator="kind"),
]


def _now() -> datetime:
    return datetime.now(UTC)


class Event(Contract):
    """The envelope: id, type, source, time, correlation id and typed data."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: EventType
    source: str = Field(description="the publishing service, e.g. `kkot.was`")
    time: datetime = Field(default_factory=_now)
    correlation_id: str | None = None
    data: EventData
