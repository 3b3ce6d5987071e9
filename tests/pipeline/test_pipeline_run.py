"""`pipeline run --data D --eval-data E`: metrics on E, registered with lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.pipeline.registry import ApprovalStatus, LocalRegistry
from shared.contracts.model import Evaluation, ModelMetadata


def test_run_reports_accuracy_on_the_given_evaluation_set(trained: dict[str, Any]) -> None:
    summary = trained["summary"]
    assert summary["status"] == "registered"
    assert summary["evaluation"]["samples"] == 12  # 4 photos per class in E
    assert summary["validation"]["evaluation"] == 12
    assert summary["validation"]["train"] == 36
    assert 0.5 <= summary["evaluation"]["accuracy"] <= 1.0
    assert summary["metrics"]["accuracy"] == round(summary["evaluation"]["accuracy"], 6)
    assert summary["condition"]["passed"] is True
    assert summary["deploy"] == {"skipped": "--no-deploy"}
    for step in ("validate", "embed", "train", "export", "evaluate", "register"):
        assert summary["timings"][step] >= 0
    assert summary["embedding"]["images"] == 36


def test_run_registers_an_approved_version_with_lineage(trained: dict[str, Any]) -> None:
    registry = LocalRegistry(trained["root"])
    (model,) = registry.list_versions("kkot-flowers")
    assert model.status == ApprovalStatus.APPROVED
    assert model.lineage.eval_dir == str(trained["eval"])
    assert model.lineage.dataset_digest == trained["summary"]["validation"]["dataset_digest"]
    assert model.lineage.parent_version is None
    artifact = registry.artifact_dir(model)
    metadata = ModelMetadata.model_validate_json((artifact / "metadata.json").read_bytes())
    assert (metadata.name, metadata.version) == ("kkot-flowers", "1")
    evaluation = Evaluation.model_validate_json((artifact / "evaluation.json").read_bytes())
    assert evaluation.samples == 12
    for name in ("model_card.md", "confusion_matrix.png", "validation_report.json"):
        assert (Path(artifact) / name).exists()
