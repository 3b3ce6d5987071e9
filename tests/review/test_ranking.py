"""Ranking doubtful labels: which photos each kind of evidence names, and in what order."""

from __future__ import annotations

import numpy as np
import pytest

from services.review.ranking import (
    FEEDBACK_WEIGHT,
    NEAR_DUPLICATE_WEIGHT,
    Photo,
    combined_score,
    model_doubts,
    near_duplicates,
    rank,
)
from shared.contracts.review import ReviewEvidence, ReviewReason

LABELS = ["astilbe", "bellflower", "black_eyed_susan"]


def _photo(i: int, label: str, *, feedback: bool = False) -> Photo:
    return Photo(f"{i:064x}", f"{'+feedback/' if feedback else ''}{label}/{i}.jpg", label, feedback)


def test_model_doubts_names_photos_put_elsewhere_or_given_little_probability() -> None:
    probabilities = np.array(
        [[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.45, 0.35, 0.2], [0.1, 0.1, 0.8]], dtype=np.float32
    )
    targets = np.array([0, 0, 0, 2], dtype=np.int64)
    found = model_doubts(probabilities, targets, min_probability=0.5)
    # Row 1 is predicted bellflower; row 2 is right but its label has under 50 %.
    assert sorted(found) == [1, 2]
    assert found[1].reason == ReviewReason.MODEL_DOUBTS
    assert found[1].score == pytest.approx(0.8)
    assert found[2].score == pytest.approx(0.55)


def test_near_duplicate_pairs_with_other_labels_are_evidence_against_both() -> None:
    # The pairs come from the folds' rule (services.model.train.groups); the ranking only
    # weighs them, so any pairs will do here. Which real photos pair up is tested on
    # flower photos in tests/review/test_build.py.
    photos = [
        _photo(0, "astilbe"),
        _photo(1, "astilbe"),
        _photo(2, "bellflower"),
        _photo(3, "bellflower"),
        _photo(4, "bellflower"),
    ]
    found = near_duplicates([(0, 4, 0.93), (2, 3, 0.99)], photos)
    assert sorted(found) == [0, 4]
    (against_first,) = found[0]
    assert against_first.reason == ReviewReason.NEAR_DUPLICATE
    assert (against_first.other_path, against_first.other_label) == (photos[4].path, "bellflower")
    assert against_first.similarity == pytest.approx(0.93)
    assert against_first.score == pytest.approx(NEAR_DUPLICATE_WEIGHT * 0.93)
    (against_last,) = found[4]
    assert (against_last.other_path, against_last.other_label) == (photos[0].path, "astilbe")


def test_near_duplicates_with_the_same_label_are_no_evidence() -> None:
    assert near_duplicates([(0, 1, 1.0)], [_photo(0, "astilbe"), _photo(1, "astilbe")]) == {}


def test_feedback_that_disagrees_is_evidence_against_the_dataset_photo_only() -> None:
    photos = [_photo(0, "astilbe"), _photo(1, "bellflower", feedback=True)]
    found = near_duplicates([(0, 1, 1.0)], photos)
    assert list(found) == [0]
    (evidence,) = found[0]
    assert evidence.reason == ReviewReason.FEEDBACK_DISAGREES
    assert evidence.score == pytest.approx(FEEDBACK_WEIGHT)
    assert evidence.similarity == pytest.approx(1.0)
    # Feedback is never a suspect, whichever side of the pair it is on.
    assert list(near_duplicates([(0, 1, 0.9)], photos[::-1])) == [1]


def test_two_reasons_outrank_either_alone_and_the_set_is_cut_at_limit() -> None:
    photos = [_photo(i, "astilbe") for i in range(4)]
    doubt = ReviewEvidence(reason=ReviewReason.MODEL_DOUBTS, score=0.6)
    twin = ReviewEvidence(
        reason=ReviewReason.NEAR_DUPLICATE,
        score=0.5,
        other_path="bellflower/9.jpg",
        other_label="bellflower",
        similarity=1.0,
    )
    evidence = {0: [twin], 1: [doubt, twin], 2: [doubt], 3: []}
    probabilities = np.array([[0.9, 0.1, 0.0]] * 4, dtype=np.float32)
    items = rank(photos, evidence, labels=LABELS, probabilities=probabilities)
    assert [item.path for item in items] == [photos[1].path, photos[2].path, photos[0].path]
    assert items[0].score == pytest.approx(combined_score([doubt, twin])) == pytest.approx(0.8)
    assert items[0].predicted == "astilbe" and items[0].label_probability == pytest.approx(0.9)
    assert len(rank(photos, evidence, labels=LABELS, limit=2)) == 2


def test_the_same_pair_counts_once_per_photo() -> None:
    twin = ReviewEvidence(
        reason=ReviewReason.NEAR_DUPLICATE, score=0.5, other_path="b/1.jpg", other_label="b"
    )
    (item,) = rank([_photo(0, "astilbe")], {0: [twin, twin]}, labels=LABELS)
    assert len(item.reasons) == 1 and item.score == pytest.approx(0.5)
