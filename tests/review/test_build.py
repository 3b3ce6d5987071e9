"""`build_review_set` on real photos: feedback that disagrees (an exact copy corrected
to another label) and a near-duplicate under another label (a mirror image) are both
found, with thumbnails, and the set is written where the web UI reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from services.model.train.hyperparameters import Hyperparameters
from services.review.build import ReviewOptions, build_review_set
from shared.contracts.review import REVIEW_SET_FILE, ReviewReason, ReviewSet
from tests.train.helpers import copy_subset

pytestmark = [pytest.mark.dataset, pytest.mark.slow]


def test_feedback_and_near_duplicates_with_other_labels_are_ranked(
    flowers_dir: Path, tmp_path: Path
) -> None:
    data = copy_subset(flowers_dir, tmp_path / "data", 10)
    corrected = sorted((data / "astilbe").glob("*.jpg"))[0]
    feedback = tmp_path / "feedback"
    (feedback / "bellflower").mkdir(parents=True)
    (feedback / "bellflower" / "rec1.jpg").write_bytes(corrected.read_bytes())
    mirrored = sorted((data / "black_eyed_susan").glob("*.jpg"))[0]
    with Image.open(mirrored) as photo:
        photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(data / "bellflower" / "mirror.jpg")

    review = build_review_set(
        ReviewOptions(
            data=data,
            out=tmp_path / "review",
            feedback=(feedback,),
            hyperparameters=Hyperparameters(flip_augment=False, epochs=60, seed=5),
        )
    )

    assert review == ReviewSet.model_validate_json(
        (tmp_path / "review" / REVIEW_SET_FILE).read_bytes()
    )
    # The training job's folds: the mirrored copy sits in its original's fold.
    assert review.method == "grouped 5-fold cross-validation (out-of-fold probabilities)"
    by_path = {item.path: item for item in review.items}
    disputed = by_path[f"astilbe/{corrected.name}"]
    (evidence,) = [e for e in disputed.reasons if e.reason == ReviewReason.FEEDBACK_DISAGREES]
    assert (evidence.other_path, evidence.other_label) == (
        "+feedback/bellflower/rec1.jpg",
        "bellflower",
    )
    assert evidence.similarity == 1.0
    for path, other in (
        ("bellflower/mirror.jpg", f"black_eyed_susan/{mirrored.name}"),
        (f"black_eyed_susan/{mirrored.name}", "bellflower/mirror.jpg"),
    ):
        twins = [e for e in by_path[path].reasons if e.reason == ReviewReason.NEAR_DUPLICATE]
        assert [e.other_path for e in twins] == [other], by_path[path].reasons
    # The mirror image under the wrong label is the more doubtful of the two.
    assert (
        by_path["bellflower/mirror.jpg"].score > by_path[f"black_eyed_susan/{mirrored.name}"].score
    )
    assert [item.score for item in review.items] == sorted(
        (item.score for item in review.items), reverse=True
    )
    for item in review.items:
        assert item.thumbnail is not None and (tmp_path / "review" / item.thumbnail).is_file()
