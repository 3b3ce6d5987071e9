"""Fixtures of the container tests: the engine, the built images, SageMaker's /opt/ml
layout, photos to classify.

These tests run the real images with a real Docker Engine. Without an engine they skip
with a reason, unless KKOT_CONTAINERS=1 (set by `make compose-test` and `make test`,
which set the engine up first): then a missing engine or image is a failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, make_image_bytes
from tests.containers.catalog import Image, image
from tests.containers.engine import daemon_answers, image_exists

REQUESTED = os.environ.get("KKOT_CONTAINERS") == "1"


def _unavailable(reason: str) -> None:
    if REQUESTED:
        pytest.fail(f"{reason} (KKOT_CONTAINERS=1 asks for the container tests)")
    pytest.skip(f"{reason}; `make compose-test` sets the engine up and builds the images")


@pytest.fixture(scope="session")
def engine() -> None:
    """A Docker daemon that answers."""
    if not daemon_answers():
        _unavailable("no container engine answers")


def built(name: str) -> Image:
    """The catalog entry of image `name`, failing/skipping when it was not built."""
    entry = image(name)
    if not image_exists(entry.local_tag):
        _unavailable(f"image {entry.local_tag} is not built")
    return entry


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A few flower photos from the dataset, or generated images when it is absent."""
    configured = os.environ.get("KKOT_DATASET_DIR")
    dataset = (
        Path(configured) if configured else REPO_ROOT.parent / "shared" / "datasets" / "flowers"
    )
    if dataset.is_dir():
        classes = sorted(p for p in dataset.iterdir() if p.is_dir())[:3]
        return [sorted(c.glob("*.jpg"))[0] for c in classes]
    folder = tmp_path_factory.mktemp("photos")
    made = []
    for index, color in enumerate((30, 120, 220)):
        path = folder / f"generated-{index}.jpg"
        path.write_bytes(make_image_bytes("JPEG", color=color))
        made.append(path)
    return made


@pytest.fixture(scope="session")
def training_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small labelled image folder: 3 classes x 8 photos (the dataset's, else made)."""
    configured = os.environ.get("KKOT_DATASET_DIR")
    dataset = (
        Path(configured) if configured else REPO_ROOT.parent / "shared" / "datasets" / "flowers"
    )
    root = tmp_path_factory.mktemp("train-channel")
    if dataset.is_dir():
        for folder in sorted(p for p in dataset.iterdir() if p.is_dir())[:3]:
            (root / folder.name).mkdir()
            for photo in sorted(folder.glob("*.jpg"))[:8]:
                shutil.copyfile(photo, root / folder.name / photo.name)
        return root
    for label, color in (("red", 30), ("green", 120), ("blue", 220)):
        (root / label).mkdir()
        for index in range(8):
            size = (200 + 10 * index, 160 + 7 * index)
            (root / label / f"{index}.jpg").write_bytes(make_image_bytes("JPEG", size, color=color))
    return root


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The default model artifact (`make model`) that the serving containers mount."""
    configured = os.environ.get("KKOT_TEST_MODEL_DIR")
    path = Path(configured) if configured else REPO_ROOT / "var" / "models" / "default"
    if not (path / "model.onnx").exists():
        _unavailable(f"no model artifact at {path} (make model)")
    return path
