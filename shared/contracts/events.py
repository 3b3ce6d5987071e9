"""The event envelope and the typed payload of every event kind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.classification import ClassificationRecord


class EventType(StrEnum):
    CLASSIFICATION_REQUESTED = "classification.requested"
    CLASSIFICATION_COMPLETED = "classification.completed"
    CLASSIFICATION_FAILED = "classification.failed"
    MODEL_REGISTERED = "model.registered"
    MODEL_DEPLOYED = "model.deployed"


class ClassificationRequested(Contract):
    kind: Literal["classification.requested"] = "classification.requested"
    classification_id: str
    image_key: str
    content_type: str
    language: Literal["en", "ko"] = "en"
    # False when the request is answered synchronously and this event only records it;
    # True asks a background consumer to do the classification.
    background: bool = True


class ClassificationCompleted(Contract):
    kind: Literal["classification.completed"] = "classification.completed"
    record: ClassificationRecord


class ClassificationFailed(Contract):
    kind: Literal["classification.failed"] = "classification.failed"
    classification_id: str
    error: str
    code: str | None = Field(None, description="the error code the API answered with")


class ModelRegistered(Contract):
    kind: Literal["model.registered"] = "model.registered"
    model_name: str
    model_version: str
    status: str
    metrics: dict[str, float] = Field(default_factory=dict)


class ModelDeployed(Contract):
    kind: Literal["model.deployed"] = "model.deployed"
    model_name: str
    model_version: str
    previous_version: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


EventData = Annotated[
    ClassificationRequested
    | ClassificationCompleted
    | ClassificationFailed
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
