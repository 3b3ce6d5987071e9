"""Fixtures of the training tests: a small flower subset (12 photos per class)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.helpers import copy_subset


@pytest.fixture(scope="session")
def small_flowers(flowers_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_subset(flowers_dir, tmp_path_factory.mktemp("small-flowers"), 12)
