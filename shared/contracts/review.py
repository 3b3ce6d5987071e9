"""The review loop for doubtful labels: the ranked review set and the label overrides.

`kkot data review` writes a `ReviewSet` (review_set.json, with thumbnails beside it);
the web UI's Review page shows it and records each decision in a `LabelOverrides` file
(label_overrides.json); `kkot pipeline run --overrides FILE` (and the training job's
`overrides` channel) applies that file when it builds the training set. The photo
folder itself is never edited: a photo is named by its content (sha256), with its
relative path kept for people and as a check.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from shared.contracts.base import Contract

__all__ = [
    "OVERRIDES_FILE",
    "REVIEW_SET_FILE",
    "Decision",
    "LabelOverride",
    "LabelOverrides",
    "OverridesApplied",
    "ReviewEvidence",
    "ReviewItem",
    "ReviewReason",
    "ReviewSet",
]

REVIEW_SET_FILE = "review_set.json"
OVERRIDES_FILE = "label_overrides.json"
_SHA256 = r"^[0-9a-f]{64}$"


class ReviewReason(StrEnum):
    """Why a photo's label is in doubt."""

    # The out-of-fold probability of the given label is low: a head that never saw
    # the photo thinks it is something else.
    MODEL_DOUBTS = "model_doubts"
    # A near-duplicate (the training folds' rule, services.model.train.groups) carries
    # another label.
    NEAR_DUPLICATE = "near_duplicate"
    # A person's correction (stored feedback) of the same or an almost identical
    # photo names another label.
    FEEDBACK_DISAGREES = "feedback_disagrees"


class ReviewEvidence(Contract):
    """One reason, with its strength in [0, 1] and what it points at."""

    reason: ReviewReason
    score: float = Field(ge=0, le=1)
    other_path: str | None = Field(None, description="the near-duplicate or feedback photo")
    other_label: str | None = Field(None, description="the label the other photo carries")
    similarity: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="how alike the near-duplicates are: centred embedding cosine "
        "or 1 - differing hash bits / 63, whichever is higher",
    )


class ReviewItem(Contract):
    """One doubtful photo."""

    sha256: str = Field(pattern=_SHA256)
    path: str = Field(description="relative to the dataset folder (`+name/...`: an extra one)")
    label: str = Field(description="the label the folder gives it")
    predicted: str | None = Field(None, description="the out-of-fold model's top label")
    label_probability: float | None = Field(None, ge=0, le=1)
    predicted_probability: float | None = Field(None, ge=0, le=1)
    score: float = Field(ge=0, le=1, description="how doubtful: 1 - prod(1 - reason scores)")
    reasons: list[ReviewEvidence] = Field(min_length=1)
    thumbnail: str | None = Field(None, description="relative to the review set's folder")


class ReviewSet(Contract):
    """review_set.json: the doubtful photos, most doubtful first."""

    created_at: datetime
    data_dir: str
    dataset_digest: str
    labels: list[str] = Field(min_length=1)
    method: str = Field(description="how the model's opinion was formed")
    examined: int = Field(ge=0, description="photos looked at")
    items: list[ReviewItem] = Field(default_factory=list)


class Decision(StrEnum):
    KEEP = "keep"
    RELABEL = "relabel"
    EXCLUDE = "exclude"


class LabelOverride(Contract):
    """A person's decision about one photo."""

    sha256: str = Field(pattern=_SHA256)
    path: str = Field(min_length=1, max_length=1024)
    label: str = Field(min_length=1, description="the label the folder gives it")
    decision: Decision
    new_label: str | None = Field(None, min_length=1)
    decided_by: str = Field(min_length=1, max_length=200)
    decided_at: datetime

    @model_validator(mode="after")
    def _new_label_only_for_relabel(self) -> Self:
        if self.decision == Decision.RELABEL:
            if not self.new_label or self.new_label == self.label:
                raise ValueError("relabel needs a new_label other than the current label")
        elif self.new_label is not None:
            raise ValueError(f"{self.decision.value} takes no new_label")
        return self


class LabelOverrides(Contract):
    """label_overrides.json: the latest decision per photo (by content hash)."""

    overrides: list[LabelOverride] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_decision_per_photo(self) -> Self:
        hashes = [o.sha256 for o in self.overrides]
        if len(hashes) != len(set(hashes)):
            raise ValueError("one decision per photo (sha256)")
        return self

    def decided(self, override: LabelOverride) -> LabelOverrides:
        """A copy with `override` replacing any earlier decision about its photo."""
        kept = [o for o in self.overrides if o.sha256 != override.sha256]
        return LabelOverrides(overrides=sorted([*kept, override], key=lambda o: o.path))

    def by_sha256(self) -> dict[str, LabelOverride]:
        return {o.sha256: o for o in self.overrides}

    def effective(self) -> dict[str, str | None]:
        """What training does per photo hash: a new label, or None (left out).
        A `keep` changes nothing, so it is not listed."""
        return {
            o.sha256: o.new_label if o.decision == Decision.RELABEL else None
            for o in self.overrides
            if o.decision != Decision.KEEP
        }


class OverridesApplied(Contract):
    """What a training run did with a label-overrides file (model card, registry)."""

    digest: str = Field(description="sha256 of the overrides file's bytes")
    decisions: int = Field(ge=0)
    relabelled: list[str] = Field(default_factory=list, description="`path: old -> new`")
    excluded: list[str] = Field(default_factory=list)
    kept: int = Field(0, ge=0)
    unmatched: int = Field(0, ge=0, description="decisions about photos not in the data")

    @classmethod
    def digest_of(cls, data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()
