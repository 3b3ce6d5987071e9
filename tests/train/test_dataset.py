"""Dataset validation before training: clear errors, listed skips and duplicates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.model.train.dataset import dataset_digest, scan_dataset, split_dataset
from services.model.train.errors import DatasetError
from tests.train.helpers import generated_dataset


def test_single_class_is_an_error(tmp_path: Path) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 5})
    with pytest.raises(DatasetError, match="single class"):
        scan_dataset(root, min_images=2)


def test_empty_class_folder_is_an_error(tmp_path: Path) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 5, "tulip": 5})
    (root / "lily").mkdir()
    with pytest.raises(DatasetError, match="without usable images: lily"):
        scan_dataset(root, min_images=2)


def test_too_few_images_names_the_class(tmp_path: Path) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 5, "tulip": 2})
    with pytest.raises(DatasetError, match=r"fewer than 3 usable images: tulip \(2\)"):
        scan_dataset(root, min_images=3)


def test_no_class_folders_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(DatasetError, match="no class sub-folders"):
        scan_dataset(tmp_path / "d", min_images=1)


def test_non_images_are_skipped_and_listed(tmp_path: Path) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 4, "tulip": 4})
    (root / "rose" / "notes.txt").write_text("not an image")
    (root / "tulip" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    scan = scan_dataset(root, min_images=4)
    assert sorted(s.path for s in scan.skipped) == ["rose/notes.txt", "tulip/broken.jpg"]
    assert len(scan.examples) == 8


def test_duplicates_within_a_class_are_dropped(tmp_path: Path) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 4, "tulip": 4})
    shutil.copyfile(root / "rose" / "000.jpg", root / "rose" / "copy.jpg")
    scan = scan_dataset(root, min_images=4)
    assert [d.path for d in scan.duplicates_dropped] == ["rose/copy.jpg"]
    assert sum(ex.label == "rose" for ex in scan.examples) == 4


def test_same_image_in_two_classes_is_dropped_from_both(tmp_path: Path) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 4, "tulip": 4})
    shutil.copyfile(root / "rose" / "001.jpg", root / "tulip" / "odd.jpg")
    scan = scan_dataset(root, min_images=3)
    assert sorted(c.path for c in scan.conflicts_dropped) == ["rose/001.jpg", "tulip/odd.jpg"]
    assert "also labelled tulip" in scan.conflicts_dropped[0].reason


def test_expected_labels_must_match(tmp_path: Path) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 3, "tulip": 3})
    with pytest.raises(DatasetError, match="missing class folders: lily"):
        scan_dataset(root, min_images=1, expected_labels=["rose", "tulip", "lily"])


def test_evaluation_copies_of_training_images_are_removed(tmp_path: Path) -> None:
    train = generated_dataset(tmp_path / "train", {"rose": 4, "tulip": 4})
    held = generated_dataset(tmp_path / "eval", {"rose": 6, "tulip": 6})  # 4 of 6 repeat
    scan = scan_dataset(train, min_images=1)
    evaluation = scan_dataset(held, min_images=1).examples
    split = split_dataset(scan.examples, fraction=0.2, seed=1, evaluation=evaluation)
    assert len(split.leaked_removed) == 8
    assert sorted(ex.relpath for ex in split.evaluation) == [
        "rose/004.jpg",
        "rose/005.jpg",
        "tulip/004.jpg",
        "tulip/005.jpg",
    ]


def test_split_is_stratified_seeded_and_digest_stable(tmp_path: Path) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 10, "tulip": 20})
    scan = scan_dataset(root, min_images=1)
    first = split_dataset(scan.examples, fraction=0.2, seed=5)
    again = split_dataset(scan.examples, fraction=0.2, seed=5)
    other = split_dataset(scan.examples, fraction=0.2, seed=6)
    assert first == again
    assert first.evaluation != other.evaluation
    assert sorted(ex.label for ex in first.evaluation).count("rose") == 2
    assert sorted(ex.label for ex in first.evaluation).count("tulip") == 4
    assert dataset_digest(scan.examples) == dataset_digest(list(reversed(scan.examples)))


def test_cross_validation_folds_are_stratified_seeded_and_cover_every_image(
    tmp_path: Path,
) -> None:
    root = generated_dataset(tmp_path / "d", {"rose": 10, "tulip": 20})
    scan = scan_dataset(root, min_images=1)
    first = split_dataset(scan.examples, fraction=0.2, seed=5, cv_folds=5)
    assert first == split_dataset(scan.examples, fraction=0.2, seed=5, cv_folds=5)
    assert first.folds != split_dataset(scan.examples, fraction=0.2, seed=6, cv_folds=5).folds
    # Every image trains (the shipped head) and is evaluated (out of its fold) once.
    assert first.train == first.evaluation and len(first.train) == 30
    assert first.cv_folds == 5
    for fold in range(5):
        members = [ex.label for ex, f in zip(first.train, first.folds, strict=True) if f == fold]
        assert (members.count("rose"), members.count("tulip")) == (2, 4)
    # An evaluation folder wins over folds; cv_folds=0 is the hold-out split.
    assert split_dataset(scan.examples, fraction=0.2, seed=5, cv_folds=0).folds == []
