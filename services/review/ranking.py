"""Which labels to doubt, and how much: pure functions over probabilities and embeddings.

Three kinds of evidence, each a score in [0, 1]:

- the model doubts: 1 - the out-of-fold probability of the given label, for a photo
  the held-out head puts in another class or gives its label less than `min_probability`;
- a near-duplicate (embedding cosine similarity at least `similarity`) carries another
  label: one of the two is wrong, so each gets `NEAR_DUPLICATE_WEIGHT` x the similarity;
- stored feedback disagrees: a person's correction of the same or an almost identical
  photo names another label; the dataset photo gets `FEEDBACK_WEIGHT` x the similarity
  (the feedback photo is the evidence, not a suspect).

A photo's score combines its evidence as independent chances of being wrong,
1 - prod(1 - s): two weak reasons outrank one of them alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.contracts.review import ReviewEvidence, ReviewItem, ReviewReason

__all__ = [
    "DEFAULT_MIN_PROBABILITY",
    "DEFAULT_SIMILARITY",
    "FEEDBACK_WEIGHT",
    "NEAR_DUPLICATE_WEIGHT",
    "Photo",
    "combined_score",
    "model_doubts",
    "near_duplicates",
    "pair_evidence",
    "rank",
]

# Defaults of `kkot data review`. The similarity is the one the grouped folds use for
# "the same picture" on this backbone (crops, flips, re-encodes score above it).
DEFAULT_SIMILARITY = 0.9
DEFAULT_MIN_PROBABILITY = 0.5
NEAR_DUPLICATE_WEIGHT = 0.5
FEEDBACK_WEIGHT = 0.9
# Rows of the similarity matrix computed at once (bounds memory on large datasets).
_CHUNK = 1024


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
    embeddings: npt.NDArray[np.float32],
    photos: Sequence[Photo],
    *,
    similarity: float,
) -> dict[int, list[ReviewEvidence]]:
    """Evidence from pairs of photos at least `similarity` alike with different labels."""
    if len(photos) != embeddings.shape[0]:
        raise ValueError("one embedding per photo")
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.maximum(norms, 1e-12)
    labels = np.array([p.label for p in photos])
    found: dict[int, list[ReviewEvidence]] = defaultdict(list)
    for start in range(0, len(photos), _CHUNK):
        block = unit[start : start + _CHUNK] @ unit.T
        rows, cols = np.nonzero(block >= similarity)
        for r, j in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if i == j or labels[i] == labels[j] or photos[i].feedback:
                continue
            found[i].append(pair_evidence(photos[j], float(block[r, j])))
    return found


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
