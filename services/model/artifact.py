"""A model artifact folder: stage it, write its files, install it.

Every artifact — the ImageNet default (`prepare`), a training job's output, a registry
version — is built the same way: in a staging folder nobody reads, then installed whole.
The files are those of `shared.contracts.model`; this module only moves them.

    staged_artifact(target)                  stage beside `target`, then rename over it:
                                             a reader sees the old folder or the new one
    staged_artifact(target, Install.FILL)    stage in a temp dir, then copy into `target`,
                                             which is kept: SageMaker's /opt/ml/model is a
                                             directory the platform owns (maybe a mount)
    write_record(folder, name, record)       one pydantic record as indented JSON
    write_artifact(target, ...)              a complete model folder in one call
    copy_artifact(source, folder, skip=...)  an existing artifact's files into a staging folder
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from shared.contracts.model import (
    CATALOG_FILE,
    LABELS_FILE,
    METADATA_FILE,
    MODEL_FILE,
    Catalog,
    LabelList,
    ModelMetadata,
)

__all__ = ["Install", "copy_artifact", "staged_artifact", "write_artifact", "write_record"]


class Install(StrEnum):
    """How a staged folder becomes the target."""

    REPLACE = "replace"  # rename over the target (same file system: staged beside it)
    FILL = "fill"  # copy into the target, keeping the directory itself


@contextmanager
def staged_artifact(target: Path, install: Install = Install.REPLACE) -> Iterator[Path]:
    """Yield an empty staging folder; on a clean exit install it as `target`.

    On an exception nothing is installed and the staging folder is removed, so a failed
    build leaves no trace beside the target.
    """
    target = Path(target)
    if install is Install.REPLACE:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    else:
        staging = Path(tempfile.mkdtemp(prefix="kkot-artifact-"))
    try:
        yield staging
        if install is Install.REPLACE:
            _replace(staging, target)
        else:
            _fill(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def write_record(folder: Path, name: str, record: BaseModel) -> None:
    """Write `record` as `folder/name` (indented JSON, as every artifact record is)."""
    (folder / name).write_text(record.model_dump_json(indent=2), encoding="utf-8")


def write_artifact(
    target: Path,
    *,
    write_model: Callable[[Path], None],
    labels: LabelList,
    catalog: Catalog,
    metadata: ModelMetadata,
) -> None:
    """Write a complete model folder as `target` (replaced whole if it exists).

    `write_model(path)` writes the ONNX file.
    """
    with staged_artifact(target) as staging:
        write_model(staging / MODEL_FILE)
        write_record(staging, LABELS_FILE, labels)
        write_record(staging, CATALOG_FILE, catalog)
        write_record(staging, METADATA_FILE, metadata)


def copy_artifact(source: Path, folder: Path, *, skip: Collection[str] = ()) -> None:
    """Copy the files and folders of the artifact `source` into `folder`, but `skip`."""
    for item in sorted(Path(source).iterdir()):
        if item.name in skip:
            continue
        if item.is_dir():
            shutil.copytree(item, folder / item.name)
        else:
            shutil.copyfile(item, folder / item.name)


def _replace(staging: Path, target: Path) -> None:
    os.chmod(staging, 0o755)  # mkdtemp makes it private; the model server may run as another user
    if target.exists():
        # rename() cannot replace a non-empty directory: move the old one aside first.
        retired = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)


def _fill(staging: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for item in sorted(staging.iterdir()):
        existing = target / item.name
        if item.is_dir():
            if existing.exists():
                shutil.rmtree(existing)
            shutil.copytree(item, existing)
        else:
            shutil.copyfile(item, existing)
