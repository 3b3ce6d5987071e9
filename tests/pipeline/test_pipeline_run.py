"""`pipeline run --data D --eval-data E`: metrics on E, registered with lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.model.train.dataset import TrainingSet
from services.model.train.evaluate import Misclassified
from services.model.train.smoke_set import load_smoke_set
from services.pipeline.registry import ApprovalStatus, LocalRegistry
from services.pipeline.run import RunOptions, run_pipeline
from services.pipeline.settings import PipelineSettings
from services.pipeline.summary import DeploySkipped
from shared.contracts.model import Evaluation, ModelMetadata
from tests.pipeline.conftest import TEST_HP
from tests.train.helpers import copy_subset


def test_run_reports_accuracy_on_the_given_evaluation_set(trained: dict[str, Any]) -> None:
    summary = trained["summary"]
    assert summary.status == "registered"
    assert summary.evaluation.samples == 12  # 4 photos per class in E
    assert summary.evaluation.method == "evaluation folder"
    assert summary.evaluation.accuracy_ci95 is not None
    low, high = summary.evaluation.accuracy_ci95
    assert low <= summary.evaluation.accuracy <= high
    assert summary.validation.evaluation == 12
    assert summary.validation.train == 36
    assert 0.5 <= summary.evaluation.accuracy <= 1.0
    assert summary.metrics["accuracy"] == round(summary.evaluation.accuracy, 6)
    assert summary.condition.passed is True
    assert summary.deploy == DeploySkipped(skipped="--no-deploy")
    for step in ("validate", "embed", "train", "export", "evaluate", "register"):
        assert summary.timings[step] >= 0
    assert summary.embedding.images == 36


def test_run_registers_an_approved_version_with_lineage(trained: dict[str, Any]) -> None:
    registry = LocalRegistry(trained["root"])
    (model,) = registry.list_versions("kkot-flowers")
    assert model.status == ApprovalStatus.APPROVED
    assert model.lineage.eval_dir == str(trained["eval"])
    assert model.lineage.dataset_digest == trained["summary"].validation.dataset_digest
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
    registry.record_deployment(registry.get_version("kkot-flowers", 1))
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
    baseline = summary.condition.baseline
    # Version 1 never trained on E, so both models are compared on all 12 photos of it.
    assert baseline.version == "1" and baseline.images == 12
    assert baseline.note == "same 12 evaluation images, held out from both models"
    assert baseline.accuracy == trained["summary"].evaluation.accuracy
    assert baseline.new_accuracy == summary.evaluation.accuracy
    assert summary.validation.train == 36 + 6  # the feedback photos joined training
    new = registry.get_version("kkot-flowers", summary.version)
    assert new.lineage.parent_version == 1
    expected = "registered" if summary.condition.passed else "rejected"
    assert summary.status == expected
    assert code == (0 if summary.condition.passed else 3)
    if not summary.condition.passed:
        assert new.status == ApprovalStatus.REJECTED
        assert "deployed 1" in (new.status_reason or "")


def _ten_per_class(flowers_dir: Path, tmp_path: Path) -> tuple[Path, PipelineSettings]:
    """10 photos per class, and settings for a fresh registry with no server to deploy to."""
    data = copy_subset(flowers_dir, tmp_path / "data", 10)
    settings = PipelineSettings(
        registry_dir=tmp_path / "registry", endpoint_url="http://127.0.0.1:9", min_accuracy=0.5
    )
    return data, settings


async def test_without_eval_data_every_photo_is_held_out_once_by_cross_validation(
    flowers_dir: Path, tmp_path: Path
) -> None:
    data, settings = _ten_per_class(flowers_dir, tmp_path)
    options = RunOptions(data=data, min_accuracy=0.5, deploy=False, hyperparameters=TEST_HP)
    code, first = await run_pipeline(options, settings)
    assert code == 0, first
    assert first.evaluation.method == "grouped 5-fold cross-validation"
    # All 30 photos are evaluated (each by a head that never saw it) and all 30 train
    # the shipped head.
    assert first.evaluation.samples == 30
    assert first.validation.train == first.validation.evaluation == 30
    assert first.timings["cross-validate"] >= 0
    registry = LocalRegistry(settings.registry_dir)
    model = registry.get_version("kkot-flowers", 1)
    artifact = registry.artifact_dir(model)
    trained_on = TrainingSet.model_validate_json((artifact / "training_set.json").read_bytes())
    assert len(trained_on.sha256) == 30
    smoke = load_smoke_set(artifact)
    assert smoke is not None and len(smoke.cases) == 6
    wrong = Misclassified.model_validate_json((artifact / "misclassified.json").read_bytes())
    assert len(wrong.images) == first.evaluation.misclassified
    assert len(wrong.images) == round((1 - first.evaluation.accuracy) * 30)

    # Deployed version 1 trained on every photo, so nothing is held out from both; the
    # same data, folds and seed make its recorded cross-validated accuracy the baseline.
    registry.record_deployment(model)
    code, second = await run_pipeline(options, settings)
    baseline = second.condition.baseline
    assert baseline.note.startswith("same images held out the same way")
    # Deterministic for a seed: the same data gives the same held-out predictions, so
    # the new model ties with its predecessor's record and passes.
    assert second.evaluation.accuracy == first.evaluation.accuracy
    assert baseline.accuracy == first.metrics["accuracy"] == baseline.new_accuracy
    assert second.condition.passed is True

    # Another seed holds out other folds: no fair baseline, so the threshold alone decides.
    reseeded = RunOptions(
        data=data,
        min_accuracy=0.5,
        deploy=False,
        hyperparameters=TEST_HP.model_copy(update={"seed": 6}),
    )
    code, third = await run_pipeline(reseeded, settings)
    assert third.condition.baseline.accuracy is None
    assert "trained on every evaluation image" in third.condition.baseline.note


async def test_cv_folds_zero_holds_out_one_stratified_split(
    flowers_dir: Path, tmp_path: Path
) -> None:
    data, settings = _ten_per_class(flowers_dir, tmp_path)
    hp = TEST_HP.model_copy(update={"cv_folds": 0})
    options = RunOptions(data=data, min_accuracy=0.5, deploy=False, hyperparameters=hp)
    code, summary = await run_pipeline(options, settings)
    assert code == 0, summary
    assert summary.evaluation.method == "hold-out split"
    # 20 % of each class's 10 photos held out; the shipped head never saw them.
    assert summary.evaluation.samples == summary.validation.evaluation == 6
    assert summary.validation.train == 24
    assert "cross-validate" not in summary.timings
    registry = LocalRegistry(settings.registry_dir)
    artifact = registry.artifact_dir(registry.get_version("kkot-flowers", 1))
    trained_on = TrainingSet.model_validate_json((artifact / "training_set.json").read_bytes())
    assert len(trained_on.sha256) == 24


async def test_manual_approval_registers_pending_and_exits_not_deployed(
    flowers_dir: Path, tmp_path: Path
) -> None:
    data, settings = _ten_per_class(flowers_dir, tmp_path)
    hp = TEST_HP.model_copy(update={"cv_folds": 0})
    options = RunOptions(data=data, min_accuracy=0.0, auto_approve=False, hyperparameters=hp)
    code, summary = await run_pipeline(options, settings)
    assert code == 4, summary
    assert summary.condition.passed is True
    assert summary.approval_status == ApprovalStatus.PENDING
    assert summary.deploy == DeploySkipped(skipped="version is PendingManualApproval")
    assert summary.status == "registered"
    assert "deploy" not in summary.timings
