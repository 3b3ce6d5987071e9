"""The local registry: versions, statuses, lineage, deployment history."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.pipeline.errors import RegistryError
from services.pipeline.registry import (
    ApprovalStatus,
    Lineage,
    LocalRegistry,
    deployed_model_dir,
)
from shared.contracts.model import ModelMetadata


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    """A minimal artifact folder (the registry copies it; it does not run it)."""
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"onnx")
    metadata = ModelMetadata(
        name="x", version="run-1", num_classes=2, source="test", created_at=datetime.now(UTC)
    )
    (folder / "metadata.json").write_text(metadata.model_dump_json())
    return folder


def test_versions_count_up_and_keep_status_metrics_lineage(tmp_path: Path, artifact: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg")
    first = registry.register(
        "roses",
        artifact,
        status=ApprovalStatus.PENDING,
        metrics={"accuracy": 0.91},
        lineage=Lineage(dataset_digest="abc", code_version="v1", training_run="run-1"),
    )
    second = registry.register(
        "roses", artifact, status=ApprovalStatus.APPROVED, metrics={}, lineage=Lineage()
    )
    assert (first.version, second.version) == (1, 2)
    again = LocalRegistry(tmp_path / "reg").get_version("roses", 1)
    assert again.status == ApprovalStatus.PENDING
    assert again.metrics == {"accuracy": 0.91}
    assert again.lineage.dataset_digest == "abc"
    stamped = json.loads((registry.artifact_dir(again) / "metadata.json").read_text())
    assert (stamped["name"], stamped["version"]) == ("roses", "1")


def test_approve_and_reject(tmp_path: Path, artifact: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg")
    registry.register(
        "roses", artifact, status=ApprovalStatus.PENDING, metrics={}, lineage=Lineage()
    )
    approved = registry.set_status("roses", 1, ApprovalStatus.APPROVED, "looks good")
    assert (approved.status, approved.status_reason) == (ApprovalStatus.APPROVED, "looks good")
    assert registry.get_version("roses", 1).status == ApprovalStatus.APPROVED
    registry.set_status("roses", 1, ApprovalStatus.REJECTED)
    assert registry.get_version("roses", 1).status == ApprovalStatus.REJECTED
    with pytest.raises(RegistryError, match="no version 7"):
        registry.set_status("roses", 7, ApprovalStatus.APPROVED)


def test_deployment_history_and_rollback(tmp_path: Path, artifact: Path) -> None:
    root = tmp_path / "reg"
    registry = LocalRegistry(root)
    assert deployed_model_dir(root) is None
    one = registry.register(
        "roses", artifact, status=ApprovalStatus.APPROVED, metrics={}, lineage=Lineage()
    )
    two = registry.register(
        "roses", artifact, status=ApprovalStatus.APPROVED, metrics={}, lineage=Lineage()
    )
    registry.record_deployment(one)
    registry.record_deployment(two)
    assert deployed_model_dir(root) == registry.artifact_dir(two)
    with pytest.raises(RegistryError, match="is deployed"):
        registry.set_status("roses", 2, ApprovalStatus.REJECTED)
    restored = registry.record_rollback()
    assert restored.version == 1
    assert deployed_model_dir(root) == registry.artifact_dir(one)
    with pytest.raises(RegistryError, match="no previous deployment"):
        registry.record_rollback()


def test_deployed_dir_is_none_when_the_artifact_vanished(tmp_path: Path, artifact: Path) -> None:
    root = tmp_path / "reg"
    registry = LocalRegistry(root)
    model = registry.register(
        "roses", artifact, status=ApprovalStatus.APPROVED, metrics={}, lineage=Lineage()
    )
    registry.record_deployment(model)
    shutil.rmtree(registry.artifact_dir(model))
    assert deployed_model_dir(root) is None


def test_bad_group_name_and_non_artifact_are_refused(tmp_path: Path, artifact: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="invalid model group"):
        registry.register(
            "bad name", artifact, status=ApprovalStatus.PENDING, metrics={}, lineage=Lineage()
        )
    with pytest.raises(RegistryError, match="not a model artifact"):
        registry.register(
            "roses", tmp_path, status=ApprovalStatus.PENDING, metrics={}, lineage=Lineage()
        )
