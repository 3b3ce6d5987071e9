"""`pipeline run --data D --eval-data E`: metrics on E, registered with lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.pipeline.registry import ApprovalStatus, LocalRegistry
from services.pipeline.run import RunOptions, run_pipeline
from services.pipeline.settings import PipelineSettings
from shared.contracts.model import Evaluation, ModelMetadata
from tests.pipeline.conftest import TEST_HP
from tests.train.helpers import copy_subset


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


async def test_second_run_compares_with_the_deployed_model_and_merges_feedback(
    registry_root: Path, trained: dict[str, Any], flowers_dir: Path, tmp_path: Path
) -> None:
    registry = LocalRegistry(registry_root)
    registry.record_deployment(registry.describe("kkot-flowers", 1))
    feedback = copy_subset(flowers_dir, tmp_path / "feedback", 2, skip=16)
    settings = PipelineSettings(
        registry_dir=registry_root, endpoint_url="http://127.0.0.1:9", min_accuracy=0.5
    )
    options = RunOptions(
        data=trained["data"],
        eval_data=trained["eval"],
        min_accuracy=0.5,
        deploy=False,
        feedback=(feedback,),
        hyperparameters=TEST_HP,
    )
    code, summary = await run_pipeline(options, settings)
    baseline = summary["condition"]["baseline"]
    # The deployed version 1 was run on the same 12 evaluation photos.
    assert baseline["version"] == "1" and baseline["note"] == "same evaluation images"
    assert baseline["accuracy"] == trained["summary"]["evaluation"]["accuracy"]
    assert summary["validation"]["train"] == 36 + 6  # the feedback photos joined training
    new = registry.describe("kkot-flowers", summary["version"])
    assert new.lineage.parent_version == 1
    expected = "registered" if summary["condition"]["passed"] else "rejected"
    assert summary["status"] == expected
    assert code == (0 if summary["condition"]["passed"] else 3)
    if not summary["condition"]["passed"]:
        assert new.status == ApprovalStatus.REJECTED
        assert "deployed 1" in (new.status_reason or "")
