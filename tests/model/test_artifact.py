"""One way to stage and install a model folder: replace whole, or fill a kept folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.model.artifact import Install, copy_artifact, staged_artifact, write_record
from shared.contracts.model import LabelList


def test_fill_keeps_the_target_directory_and_replaces_what_it_writes(tmp_path: Path) -> None:
    # SageMaker owns /opt/ml/model: the folder itself must survive the install.
    target = tmp_path / "opt-ml-model"
    (target / "smoke").mkdir(parents=True)
    (target / "smoke" / "old.jpg").write_bytes(b"old")
    inode = target.stat().st_ino
    with staged_artifact(target, Install.FILL) as staging:
        assert staging.parent != target.parent  # staged elsewhere: target may be a mount
        write_record(staging, "labels.json", LabelList(labels=["a", "b"]))
        (staging / "smoke").mkdir()
        (staging / "smoke" / "new.jpg").write_bytes(b"new")
        assert not (target / "labels.json").exists()  # nothing visible before the end
    assert target.stat().st_ino == inode
    assert sorted(p.name for p in (target / "smoke").iterdir()) == ["new.jpg"]
    assert LabelList.model_validate_json((target / "labels.json").read_bytes()).labels == [
        "a",
        "b",
    ]
    assert not staging.exists()


@pytest.mark.parametrize("install", list(Install))
def test_a_failed_build_installs_nothing_and_leaves_no_staging(
    tmp_path: Path, install: Install
) -> None:
    target = tmp_path / "models" / "v2"
    with pytest.raises(RuntimeError), staged_artifact(target, install) as staging:
        (staging / "model.onnx").write_bytes(b"half")
        raise RuntimeError("export failed")
    assert not target.exists()
    assert not staging.exists()
    assert not (tmp_path / "models").exists() or os.listdir(tmp_path / "models") == []


def test_copy_skips_what_the_caller_rewrites(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "smoke").mkdir(parents=True)
    (source / "metadata.json").write_text("{}")
    (source / "model.onnx").write_bytes(b"graph")
    (source / "smoke" / "a.jpg").write_bytes(b"jpeg")
    with staged_artifact(tmp_path / "registry" / "1") as staging:
        copy_artifact(source, staging, skip={"metadata.json"})
        assert sorted(p.name for p in staging.iterdir()) == ["model.onnx", "smoke"]
    installed = tmp_path / "registry" / "1"
    assert (installed / "smoke" / "a.jpg").read_bytes() == b"jpeg"
    assert installed.stat().st_mode & 0o777 == 0o755  # readable by a server of another user
