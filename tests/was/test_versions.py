"""`GET /api/v1/models`: the registry's versions for the model page's history, the
deployed one marked; none where WAS reads no registry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.pipeline.registry.local import LocalRegistry
from services.pipeline.registry.records import ApprovalStatus, Lineage
from services.was.versions import read_versions
from shared.contracts.model import ModelMetadata


def _artifact(folder: Path) -> Path:
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"not a real graph: the registry only copies it")
    metadata = ModelMetadata(
        name="m", version="x", num_classes=3, source="test", created_at=datetime.now(UTC)
    )
    (folder / "metadata.json").write_text(metadata.model_dump_json())
    return folder


def test_versions_oldest_first_with_the_deployed_one_marked(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    artifact = _artifact(tmp_path / "artifact")
    registry.create_group("kkot-flowers")
    for accuracy in (0.9, 0.8):
        registry.register(
            "kkot-flowers",
            artifact,
            status=ApprovalStatus.APPROVED,
            metrics={"accuracy": accuracy},
            lineage=Lineage(),
        )
    registry.record_deployment(registry.get_version("kkot-flowers", 1))
    versions = read_versions(tmp_path / "registry")
    assert [(v.version, v.accuracy, v.deployed) for v in versions] == [
        ("1", 0.9, True),
        ("2", 0.8, False),
    ]
    assert versions[0].status == "Approved"


def test_no_registry_means_no_versions(tmp_path: Path) -> None:
    assert read_versions(tmp_path / "missing") == []
