"""`build_review_set` on real photos: feedback that disagrees (an exact copy corrected
to another label) and near-duplicates under another label (a mirror image, a re-sized
crop) are found by the training folds' near-duplicate rule, distinct photos are not,
and the set is written, with thumbnails, where the web UI reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from services.model.train.groups import MIN_CENTRED_IMAGES, NEAR_DUPLICATE_SIMILARITY
from services.model.train.hyperparameters import Hyperparameters
from services.review.build import ReviewOptions, build_review_set
from shared.contracts.review import REVIEW_SET_FILE, ReviewReason, ReviewSet
from tests.train.helpers import copy_subset

pytestmark = [pytest.mark.dataset, pytest.mark.slow]

PER_CLASS = 12


def test_feedback_and_near_duplicates_with_other_labels_are_ranked(
    flowers_dir: Path, tmp_path: Path
) -> None:
    data = copy_subset(flowers_dir, tmp_path / "data", PER_CLASS)
    corrected = sorted((data / "astilbe").glob("*.jpg"))[0]
    feedback = tmp_path / "feedback"
    (feedback / "bellflower").mkdir(parents=True)
    (feedback / "bellflower" / "rec1.jpg").write_bytes(corrected.read_bytes())
    # Two true near-duplicates filed under another label: a mirror image, and a
    # re-sized, re-encoded 3 % crop.
    mirrored = sorted((data / "black_eyed_susan").glob("*.jpg"))[0]
    with Image.open(mirrored) as photo:
        ImageOps.mirror(photo).save(data / "bellflower" / "mirror.jpg")
    cropped = sorted((data / "bellflower").glob("*.jpg"))[1]
    with Image.open(cropped) as opened:
        picture = opened.convert("RGB")
    w, h = picture.size
    crop = picture.crop((w * 3 // 100, h * 3 // 100, w - w * 3 // 100, h - h * 3 // 100))
    crop.resize((w * 3 // 4, h * 3 // 4)).save(data / "astilbe" / "crop.jpg", quality=85)
    # A distinct astilbe photo filed under bellflower: wrongly labelled, but the twin of
    # nothing, so the model may doubt it and the near-duplicate rule must not.
    distinct = sorted((data / "astilbe").glob("*.jpg"))[5]
    shutil.move(distinct, data / "bellflower" / distinct.name)

    review = build_review_set(
        ReviewOptions(
            data=data,
            out=tmp_path / "review",
            feedback=(feedback,),
            hyperparameters=Hyperparameters(flip_augment=False, epochs=60, seed=5),
        )
    )

    assert review.examined >= MIN_CENTRED_IMAGES  # the embeddings count, not hashes alone
    assert review == ReviewSet.model_validate_json(
        (tmp_path / "review" / REVIEW_SET_FILE).read_bytes()
    )
    # The training job's folds: the copies sit in their originals' folds.
    assert review.method == "grouped 5-fold cross-validation (out-of-fold probabilities)"
    by_path = {item.path: item for item in review.items}
    disputed = by_path[f"astilbe/{corrected.name}"]
    (evidence,) = [e for e in disputed.reasons if e.reason == ReviewReason.FEEDBACK_DISAGREES]
    assert (evidence.other_path, evidence.other_label) == (
        "+feedback/bellflower/rec1.jpg",
        "bellflower",
    )
    assert evidence.similarity == 1.0
    twins = {
        (item.path, e.other_path): e.similarity
        for item in review.items
        for e in item.reasons
        if e.reason == ReviewReason.NEAR_DUPLICATE
    }
    original_of_mirror = f"black_eyed_susan/{mirrored.name}"
    original_of_crop = f"bellflower/{cropped.name}"
    # Exactly the two true pairs, each against both photos; no two distinct photos.
    assert set(twins) == {
        ("bellflower/mirror.jpg", original_of_mirror),
        (original_of_mirror, "bellflower/mirror.jpg"),
        ("astilbe/crop.jpg", original_of_crop),
        (original_of_crop, "astilbe/crop.jpg"),
    }, twins
    assert all(
        alike is not None and NEAR_DUPLICATE_SIMILARITY["lite0"] <= alike <= 1
        for alike in twins.values()
    ), twins
    moved = by_path.get(f"bellflower/{distinct.name}")
    assert moved is None or {e.reason for e in moved.reasons} == {ReviewReason.MODEL_DOUBTS}
    # The mirror image under the wrong label is the more doubtful of the two.
    assert by_path["bellflower/mirror.jpg"].score > by_path[original_of_mirror].score
    assert [item.score for item in review.items] == sorted(
        (item.score for item in review.items), reverse=True
    )
    for item in review.items:
        assert item.thumbnail is not None and (tmp_path / "review" / item.thumbnail).is_file()


def test_on_a_small_set_the_hashes_alone_find_the_twins(flowers_dir: Path, tmp_path: Path) -> None:
    # 16 photos: too few for a centred embedding (services.model.train.groups'
    # MIN_CENTRED_IMAGES), so the rule falls back to the perceptual hashes, which still
    # see a mirrored copy under another label and nothing else.
    data = copy_subset(flowers_dir, tmp_path / "data", 5)
    mirrored = sorted((data / "astilbe").glob("*.jpg"))[2]
    with Image.open(mirrored) as photo:
        ImageOps.mirror(photo).save(data / "black_eyed_susan" / "mirror.jpg")

    review = build_review_set(
        ReviewOptions(
            data=data,
            out=tmp_path / "review",
            hyperparameters=Hyperparameters(flip_augment=False, epochs=60, seed=5),
        )
    )

    assert review.examined == 16 < MIN_CENTRED_IMAGES
    twins = {
        (item.path, e.other_path): e.similarity
        for item in review.items
        for e in item.reasons
        if e.reason == ReviewReason.NEAR_DUPLICATE
    }
    original = f"astilbe/{mirrored.name}"
    assert set(twins) == {
        ("black_eyed_susan/mirror.jpg", original),
        (original, "black_eyed_susan/mirror.jpg"),
    }
    # As alike as the hashes: 1 - differing bits / 63 (a mirror image re-encoded: 0-2).
    assert all(alike is not None and alike >= 1 - 2 / 63 for alike in twins.values()), twins
