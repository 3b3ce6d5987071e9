"""A small review set on disk, for the tests of the pages that show one (the web
page, its access rules, axe): the contract `kkot data review` writes, over given photos
(or generated ones), without running the model."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from services.model.train.thumbnails import save_thumbnail
from shared.contracts.review import (
    REVIEW_SET_FILE,
    ReviewEvidence,
    ReviewItem,
    ReviewReason,
    ReviewSet,
)
from tests.conftest import make_image_bytes

LABELS = ["astilbe", "bellflower", "black_eyed_susan"]


def write_review_set(folder: Path, photos: list[Path] | None = None, count: int = 2) -> ReviewSet:
    """review_set.json + thumbnails in `folder`: one item per photo, all labelled
    bellflower and doubted (most doubtful first), the second also a near-duplicate."""
    if photos is None:
        generated = folder / "photos"
        generated.mkdir(parents=True, exist_ok=True)
        photos = []
        for index in range(count):
            path = generated / f"{index:03d}.jpg"
            path.write_bytes(make_image_bytes(size=(96 + index, 96), color=40 * index))
            photos.append(path)
    items = []
    for index, photo in enumerate(photos):
        sha = hashlib.sha256(photo.read_bytes()).hexdigest()
        thumbnail = f"thumbnails/{sha[:24]}.jpg"
        save_thumbnail(photo, folder / thumbnail)
        score = round(0.9 - 0.2 * index, 3)
        reasons = [ReviewEvidence(reason=ReviewReason.MODEL_DOUBTS, score=score)]
        if index == 1:
            reasons.append(
                ReviewEvidence(
                    reason=ReviewReason.NEAR_DUPLICATE,
                    score=0.45,
                    other_path="astilbe/other.jpg",
                    other_label="astilbe",
                    similarity=0.93,
                )
            )
        items.append(
            ReviewItem(
                sha256=sha,
                path=f"bellflower/{photo.name}",
                label="bellflower",
                predicted="astilbe",
                predicted_probability=0.8,
                label_probability=round(1 - score, 3),
                score=score,
                reasons=reasons,
                thumbnail=thumbnail,
            )
        )
    review = ReviewSet(
        created_at=datetime.now(UTC),
        data_dir="data",
        dataset_digest="0" * 64,
        labels=LABELS,
        method="5-fold cross-validation (out-of-fold probabilities)",
        examined=30,
        items=items,
    )
    (folder / REVIEW_SET_FILE).write_text(review.model_dump_json(indent=2))
    return review
