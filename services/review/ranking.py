"""Which labels to doubt, and how much: pure functions over probabilities and pairs.

Three kinds of evidence, each a score in [0, 1]:

- the model doubts: 1 - the out-of-fold probability of the given label, for a photo
  the held-out head puts in another class or gives its label less than `min_probability`;
- a near-duplicate carries another label: one of the two is wrong, so each gets
  `NEAR_DUPLICATE_WEIGHT` x how alike they are;
- stored feedback disagrees: a person's correction of the same photo or a near-duplicate
  of it names another label; the dataset photo gets `FEEDBACK_WEIGHT` x how alike they
  are (the feedback photo is the evidence, not a suspect).

Which photos are near-duplicates, and how alike, is not decided here: it is the training
folds' rule, `services.model.train.groups.near_duplicate_pairs` (centred embedding cosine
or perceptual hash, with its guard for small sets), so a pair the review calls twins is a
pair the folds keep together. This module only weighs the pairs it is given.

A photo's score combines its evidence as independent chances of being wrong,
1 - prod(1 - s): two weak reasons outrank one of them alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.contracts.review import ReviewEvidence, ReviewItem, ReviewReason

__all__ = [
    "DEFAULT_MIN_PROBABILITY",
    "FEEDBACK_WEIGHT",
    "NEAR_DUPLICATE_WEIGHT",
    "Photo",
    "combined_score",
    "model_doubts",
    "near_duplicates",
    "pair_evidence",
    "rank",
]

# Default of `kkot data review --min-probability`.
DEFAULT_MIN_PROBABILITY = 0.5
NEAR_DUPLICATE_WEIGHT = 0.5
FEEDBACK_WEIGHT = 0.9


@dataclass(frozen=True)
class Photo:
    """One photo under review: identity, label, and whether it is stored feedback."""

    sha256: str
    path: str
    label: str
    feedback: bool = False


def model_doubts(
    probabilities: npt.NDArray[np.float32],
    targets: npt.NDArray[np.int64],
    *,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
) -> dict[int, ReviewEvidence]:
    """Evidence for each row whose held-out prediction is another label or whose label
    gets less than `min_probability`."""
    found: dict[int, ReviewEvidence] = {}
    for row, (probs, target) in enumerate(zip(probabilities, targets, strict=True)):
        given = float(probs[target])
        if int(probs.argmax()) != int(target) or given < min_probability:
            found[row] = ReviewEvidence(
                reason=ReviewReason.MODEL_DOUBTS, score=round(min(1.0, max(0.0, 1.0 - given)), 6)
            )
    return found


def near_duplicates(
    pairs: Iterable[tuple[int, int, float]], photos: Sequence[Photo]
) -> dict[int, list[ReviewEvidence]]:
    """Evidence from near-duplicate `pairs` (i, j, alike) of `photos` with different labels:
    against both photos, except that a feedback photo is the evidence, never a suspect."""
    found: dict[int, list[ReviewEvidence]] = defaultdict(list)
    for i, j, alike in pairs:
        if photos[i].label == photos[j].label:
            continue
        for suspect, other in ((i, j), (j, i)):
            if not photos[suspect].feedback:
                found[suspect].append(pair_evidence(photos[other], alike))
    return dict(found)


def pair_evidence(other: Photo, alike: float) -> ReviewEvidence:
    """Evidence against a photo from `other`, `alike` to it, that carries another label."""
    reason, weight = (
        (ReviewReason.FEEDBACK_DISAGREES, FEEDBACK_WEIGHT)
        if other.feedback
        else (ReviewReason.NEAR_DUPLICATE, NEAR_DUPLICATE_WEIGHT)
    )
    alike = min(1.0, alike)
    return ReviewEvidence(
        reason=reason,
        score=round(weight * max(0.0, alike), 6),
        other_path=other.path,
        other_label=other.label,
        similarity=round(alike, 6),
    )


def combined_score(evidence: Sequence[ReviewEvidence]) -> float:
    """1 - prod(1 - s) over the evidence: independent chances that the label is wrong."""
    keep = 1.0
    for item in evidence:
        keep *= 1.0 - item.score
    return round(1.0 - keep, 6)


def rank(
    photos: Sequence[Photo],
    evidence: dict[int, list[ReviewEvidence]],
    *,
    labels: Sequence[str],
    probabilities: npt.NDArray[np.float32] | None = None,
    limit: int | None = None,
) -> list[ReviewItem]:
    """The photos with any evidence, most doubtful first (ties: by path).

    Per photo, only the strongest evidence of each kind and other photo is kept.
    """
    items = []
    for row, found in evidence.items():
        if not found:
            continue
        photo = photos[row]
        strongest = sorted(
            _strongest(found), key=lambda e: (-e.score, e.reason, e.other_path or "")
        )
        opinion: dict[str, str | float | None] = {}
        if probabilities is not None and row < len(probabilities):
            probs = probabilities[row]
            top = int(probs.argmax())
            opinion = {
                "predicted": labels[top],
                "predicted_probability": round(float(probs[top]), 6),
                "label_probability": round(float(probs[list(labels).index(photo.label)]), 6),
            }
        items.append(
            ReviewItem.model_validate(
                {
                    "sha256": photo.sha256,
                    "path": photo.path,
                    "label": photo.label,
                    "score": combined_score(strongest),
                    "reasons": strongest,
                    **opinion,
                }
            )
        )
    items.sort(key=lambda item: (-item.score, item.path))
    return items[:limit] if limit is not None else items


def _strongest(evidence: list[ReviewEvidence]) -> list[ReviewEvidence]:
    best: dict[tuple[ReviewReason, str | None], ReviewEvidence] = {}
    for item in evidence:
        key = (item.reason, item.other_path)
        if key not in best or item.score > best[key].score:
            best[key] = item
    return list(best.values())
