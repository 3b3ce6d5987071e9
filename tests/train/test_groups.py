"""Grouped cross-validation: near-duplicate photos never sit in different folds."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from services.model.train.dataset import Example, split_dataset
from services.model.train.groups import (
    HASH_DISTANCE,
    MIN_CENTRED_IMAGES,
    group_sizes,
    grouped_folds,
    hash_pairs,
    near_duplicate_groups,
    near_duplicate_pairs,
    perceptual_hashes,
    similar_pairs,
)
from services.model.train.hyperparameters import Hyperparameters
from services.model.train.job import run_training
from services.model.train.settings import TrainSettings
from tests.train.helpers import LABELS, copy_subset


def _examples(labels: list[str]) -> list[Example]:
    return [
        Example(
            path=Path(f"/x/{i}.jpg"), relpath=f"{label}/{i:03d}.jpg", label=label, sha256=str(i)
        )
        for i, label in enumerate(labels)
    ]


def test_grouped_folds_keep_groups_whole_and_classes_spread() -> None:
    labels = ["a"] * 40 + ["b"] * 30 + ["c"] * 20
    # Groups of 1 to 4 consecutive images of one class.
    groups = []
    group = 0
    for i in range(len(labels)):
        if i % 7 in (0, 3, 5) or labels[i] != labels[i - 1]:
            group += 1
        groups.append(group)
    folds = grouped_folds(labels, groups, 5, seed=3)
    assert folds == grouped_folds(labels, groups, 5, seed=3)
    assert folds != grouped_folds(labels, groups, 5, seed=4)
    fold_of_group: dict[int, set[int]] = defaultdict(set)
    for g, f in zip(groups, folds, strict=True):
        fold_of_group[g].add(f)
    assert all(len(found) == 1 for found in fold_of_group.values())
    for label in "abc":
        per_fold = Counter(f for f, name in zip(folds, labels, strict=True) if name == label)
        assert sorted(per_fold) == [0, 1, 2, 3, 4]
        # Groups of up to 4 images: the folds of a class differ by less than a group.
        assert max(per_fold.values()) - min(per_fold.values()) <= 4


def test_ungrouped_split_is_stratified_k_fold() -> None:
    examples = _examples(["a"] * 23 + ["b"] * 17)
    split = split_dataset(examples, fraction=0.2, seed=1, cv_folds=5)
    assert split.groups == []
    for label in "ab":
        per_fold = Counter(
            f for f, ex in zip(split.folds, split.train, strict=True) if ex.label == label
        )
        assert max(per_fold.values()) - min(per_fold.values()) <= 1
    regrouped = split.grouped(list(range(len(split.train))), seed=1)
    assert regrouped.folds == split.folds and regrouped.groups == list(range(40))


def test_mirror_views_join_a_mirrored_copy_with_its_original() -> None:
    rng = np.random.default_rng(0)
    n = MIN_CENTRED_IMAGES
    photos = rng.normal(size=(n, 32)).astype(np.float32)
    mirrors = rng.normal(size=(n, 32)).astype(np.float32)
    # Image 3 is the mirror image of image 0: its embedding is 0's mirror embedding.
    photos[3] = mirrors[0] + 0.01
    mirrors[3] = photos[0]
    assert similar_pairs(photos, n, 0.95) == []  # photo vs photo: no match
    pairs = similar_pairs(np.concatenate([photos, mirrors]), n, 0.95)
    assert [(i, j) for i, j, _ in pairs] == [(0, 3)]
    groups = near_duplicate_groups(np.concatenate([photos, mirrors]), n, 0.95)
    assert groups == [0, 1, 2, 0, *range(3, n - 1)]
    assert group_sizes([0, 1, 2, 0]) == {1: 2, 2: 1}


def test_below_min_centred_images_the_hashes_alone_decide() -> None:
    # Two copies of one picture (the same embedding up to noise) among distinct photos:
    # from MIN_CENTRED_IMAGES images on, the centred embeddings join them; below, the
    # mean of so few photos is no centre (a pair alone is centred into opposite
    # directions), so the embeddings are not asked and only the hashes can join.
    rng = np.random.default_rng(1)
    n = MIN_CENTRED_IMAGES
    embeddings = rng.normal(size=(n, 32)).astype(np.float32)
    embeddings[1] = embeddings[0] + rng.normal(scale=0.01, size=32).astype(np.float32)
    hashes = rng.random((n, 2, 63)) < 0.5  # random hashes: about 31 bits apart
    ((i, j, alike),) = near_duplicate_pairs(embeddings, n, 0.85, hashes)
    assert (i, j) == (0, 1) and alike > 0.99
    assert near_duplicate_pairs(embeddings[: n - 1], n - 1, 0.85, hashes[: n - 1]) == []
    assert near_duplicate_groups(embeddings[:2], 2, 0.85) == [0, 1]
    assert similar_pairs(embeddings[:2], 2, -1.0)[0][2] < -0.99  # why: centred apart
    # Hashes 3 bits apart (a re-encode) join the pair at any size; how alike the pair
    # is, is the stronger signal that joined it.
    hashes[1] = hashes[0]
    hashes[1, 0, :3] = ~hashes[1, 0, :3]
    for size in (2, n - 1, n):
        ((i, j, alike),) = near_duplicate_pairs(embeddings[:size], size, 0.85, hashes[:size])
        assert (i, j) == (0, 1)
        if size < n:
            assert alike == pytest.approx(1.0 - 3 / 63)
        else:
            assert alike > 0.99
    with pytest.raises(ValueError, match="one hash per image"):
        near_duplicate_pairs(embeddings, n, 0.85, hashes[:2])


def _near_duplicates(photo: Path, target: Path) -> list[Path]:
    """A trimmed crop, a mirror image, an enlarged and a reduced copy of `photo`, saved
    (re-encoded) next to it."""
    with Image.open(photo) as opened:
        image = opened.convert("RGB")
    w, h = image.size
    copies = {
        "crop": image.crop((w // 40, h // 40, w - w // 40, h - h // 40)),
        "mirror": ImageOps.mirror(image),
        "larger": image.resize((w * 5 // 4, h * 5 // 4)),
        "smaller": image.resize((w * 3 // 4, h * 3 // 4)),
    }
    paths = []
    for name, copy in copies.items():
        path = target / f"{photo.stem}-{name}.jpg"
        copy.save(path, quality=88)
        paths.append(path)
    return paths


@pytest.mark.dataset
@pytest.mark.slow
def test_training_keeps_crops_mirrors_and_resizes_of_a_photo_in_one_fold(
    flowers_dir: Path, tmp_path: Path
) -> None:
    data = copy_subset(flowers_dir, tmp_path / "data", 10)
    twins: dict[str, list[str]] = {}
    for label in LABELS:
        for photo in sorted((data / label).glob("*.jpg"))[:3]:
            copies = _near_duplicates(photo, data / label)
            twins[f"{label}/{photo.name}"] = [f"{label}/{p.name}" for p in copies]
    settings = TrainSettings(data_dir=data, model_dir=tmp_path / "model", output_dir=tmp_path / "o")
    hp = Hyperparameters(epochs=60, seed=7, smoke_images_per_class=1)
    result = run_training(settings, hp, progress_every=10_000)

    split = result.split
    fold = {ex.relpath: f for ex, f in zip(split.train, split.folds, strict=True)}
    group = {ex.relpath: g for ex, g in zip(split.train, split.groups, strict=True)}
    for original, names in twins.items():
        assert {group[name] for name in names} == {group[original]}, original
        assert {fold[name] for name in names} == {fold[original]}, original
    # The threshold joins twins, not different photos of one flower: the 30 originals stay
    # (nearly) apart.
    assert len(set(group.values())) >= 27
    evaluation = result.evaluation
    assert evaluation.method == "grouped 5-fold cross-validation"
    assert evaluation.samples == 30 + 36
    assert evaluation.near_duplicate_groups is not None and evaluation.near_duplicate_groups >= 9
    assert evaluation.accuracy_ci95 is not None
    card = (tmp_path / "model" / "model_card.md").read_text()
    assert "(grouped 5-fold cross-validation)" in card
    assert "estimates the accuracy on new photos" in card


@pytest.mark.dataset
def test_perceptual_hash_sees_resized_and_mirrored_copies_not_other_photos(
    flowers_dir: Path, tmp_path: Path
) -> None:
    photos = sorted((flowers_dir / "astilbe").glob("*.jpg"))[:2]
    with Image.open(photos[0]) as opened:
        image = opened.convert("RGB")
    copy = tmp_path / "copy.jpg"
    ImageOps.mirror(image).resize((image.width * 3 // 2, image.height * 3 // 2)).save(copy)
    hashes = perceptual_hashes([photos[0], copy, photos[1]])
    assert [(i, j) for i, j, _ in hash_pairs(hashes, HASH_DISTANCE)] == [(0, 1)]
