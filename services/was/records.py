"""The stored classification and its rendering into the public contract.

Storage keeps labels, scores and keys (language-neutral); display names and
descriptions are looked up when a record is rendered, in the caller's language, so a
catalog fix shows up on old records too.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.catalog import label_text
from shared.contracts.classification import (
    ClassificationRecord,
    ClassificationStatus,
    ClassificationTiming,
    ScoredLabel,
)
from shared.contracts.events import ClassificationOutcome
from shared.contracts.model import Catalog, Language
from shared.contracts.prediction import LabelScore

__all__ = ["StoredClassification", "outcome_of", "render_record"]


class StoredClassification(BaseModel):
    """One row of the classification store (never sent over the wire as is)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: ClassificationStatus
    created_at: datetime
    completed_at: datetime | None = None
    request_id: str | None = None
    filename: str | None = None
    content_type: str
    image_key: str
    top_k: list[LabelScore] = Field(default_factory=list)
    model_name: str | None = None
    model_version: str | None = None
    timing: ClassificationTiming | None = None
    error: str | None = None
    error_code: str | None = None
    feedback_label: str | None = None
    feedback_at: datetime | None = None
    # Who asked for it and who corrected it (an access principal, see README "Access").
    created_by: str | None = None
    feedback_by: str | None = None
    # Bumped on every change of the feedback; the record's ETag (If-Match on feedback).
    version: int = 0
    # Jobs: answered 202 (else a synchronous request), in which language, and how many
    # times a worker has started on it (bounded, so a job that kills its worker ends).
    background: bool = False
    language: Language = "en"
    attempts: int = 0

    @property
    def best(self) -> LabelScore | None:
        return self.top_k[0] if self.top_k else None


def render_record(
    stored: StoredClassification, language: Language, catalogs: tuple[Catalog, ...], image_url: str
) -> ClassificationRecord:
    """The public record in `language`, with display names from `catalogs`."""
    best = stored.best
    text = label_text(best.label, language, *catalogs) if best else None
    return ClassificationRecord(
        id=stored.id,
        status=stored.status,
        created_at=stored.created_at,
        completed_at=stored.completed_at,
        filename=stored.filename,
        content_type=stored.content_type,
        image_url=image_url,
        label=best.label if best else None,
        display_name=text.name if text else None,
        description=text.description if text else None,
        confidence=best.score if best else None,
        top_k=[
            ScoredLabel(
                label=entry.label,
                display_name=label_text(entry.label, language, *catalogs).name,
                score=entry.score,
            )
            for entry in stored.top_k
        ],
        model_name=stored.model_name,
        model_version=stored.model_version,
        timing=stored.timing,
        error=stored.error,
        feedback_label=stored.feedback_label,
        feedback_at=stored.feedback_at,
        feedback_by=stored.feedback_by,
        version=stored.version,
    )


def outcome_of(stored: StoredClassification, image_url: str) -> ClassificationOutcome:
    """The language-neutral data events carry about a finished record."""
    return ClassificationOutcome(
        classification_id=stored.id,
        status=stored.status,
        created_at=stored.created_at,
        completed_at=stored.completed_at,
        image_url=image_url,
        content_type=stored.content_type,
        filename=stored.filename,
        top_k=stored.top_k,
        model_name=stored.model_name,
        model_version=stored.model_version,
        error_code=stored.error_code,
    )
