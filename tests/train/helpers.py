"""Small datasets for the training and pipeline tests: flower subsets and generated images."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import make_image_bytes

LABELS = ("astilbe", "bellflower", "black_eyed_susan")


def copy_subset(flowers_dir: Path, target: Path, per_class: int, *, skip: int = 0) -> Path:
    """Copy `per_class` photos of each class (after the first `skip`, sorted) to `target`."""
    for label in LABELS:
        photos = sorted((flowers_dir / label).glob("*.jpg"))[skip : skip + per_class]
        (target / label).mkdir(parents=True, exist_ok=True)
        for photo in photos:
            shutil.copyfile(photo, target / label / photo.name)
    return target


def generated_dataset(target: Path, counts: dict[str, int]) -> Path:
    """An image folder of distinct generated JPEGs: `counts[label]` per class."""
    for index, (label, count) in enumerate(sorted(counts.items())):
        folder = target / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            data = make_image_bytes(size=(64 + i, 48 + index), color=(30 * index + 7 * i) % 256)
            (folder / f"{i:03d}.jpg").write_bytes(data)
    return target
