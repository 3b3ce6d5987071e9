"""`kkot pipeline run`: validate -> train -> evaluate -> condition -> register -> deploy.

The condition passes when the new model's held-out accuracy is at least `min_accuracy`
AND not below the deployed model's on the SAME images, held out from both:

- the new run's evaluation images that the deployed model did not train on (its
  training_set.json): its model.onnx is run on them, and the new model's held-out
  predictions on exactly those images are compared with it;
- when there are none (a re-run on the same data) but the deployed model was evaluated
  on the same images the same way (same dataset digest, folds / split and seed), its
  recorded held-out accuracy is the baseline;
- otherwise (other labels, no training list, trained on every evaluation image) there is
  no fair baseline and only the threshold applies; the summary says which.

Registration: Approved when the condition passes and auto-approval is on (the default
locally: the condition is the gate), PendingManualApproval with auto-approval off,
Rejected (kept, with the reason, for lineage) when the condition fails. Only an
Approved version is deployed, and only without --no-deploy.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from services.model.train.dataset import TRAINING_SET_FILE, TrainingSet
from services.model.train.hyperparameters import Hyperparameters
from services.model.train.job import StepTimer, TrainResult, run_training
from services.model.train.settings import TrainSettings
from services.pipeline.deploy import ModelServerAdmin, deploy_version
from services.pipeline.errors import PipelineError
from services.pipeline.feedback import export_feedback
from services.pipeline.registry import ApprovalStatus, Lineage, LocalRegistry, ModelVersion
from services.pipeline.settings import PipelineSettings
from shared.contracts.model import (
    EVALUATION_FILE,
    LABELS_FILE,
    METADATA_FILE,
    MODEL_FILE,
    Evaluation,
    LabelList,
    ModelMetadata,
    Preprocessing,
)
from shared.events import EventBus
from shared.logging import get_logger

__all__ = ["Baseline", "RunOptions", "run_pipeline"]

_log = get_logger("kkot.pipeline")

# Exit codes of `kkot pipeline run` besides 0 and 1 (a failed step).
EXIT_CONDITION_FAILED = 3
EXIT_NOT_DEPLOYED = 4


@dataclass(frozen=True)
class RunOptions:
    data: Path
    eval_data: Path | None = None
    min_accuracy: float = 0.9
    deploy: bool = True
    feedback: tuple[Path, ...] = ()
    feedback_url: str | None = None
    feedback_api_key: str | None = None
    auto_approve: bool = True
    labels: list[str] | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)


@dataclass(frozen=True)
class Baseline:
    """The deployed model and the new one on the same held-out images (when fair)."""

    source: str
    version: str | None
    accuracy: float | None
    reason: str
    new_accuracy: float | None = None
    images: int = 0


async def run_pipeline(
    options: RunOptions, settings: PipelineSettings, *, bus: EventBus | None = None
) -> tuple[int, dict[str, Any]]:
    """Run every step; return (exit code, JSON summary)."""
    timer = StepTimer(_log)
    started = time.perf_counter()
    registry = LocalRegistry(settings.registry_dir)
    with tempfile.TemporaryDirectory(prefix="kkot-pipeline-") as work_name:
        work = Path(work_name)
        feedback_dirs = list(options.feedback)
        if options.feedback_url:
            with timer.step("feedback"):
                exported = await export_feedback(
                    options.feedback_url, work / "feedback", api_key=options.feedback_api_key
                )
                _log.info("feedback_merged", images=exported.written + exported.kept)
                feedback_dirs.append(work / "feedback")
        train_settings = TrainSettings(
            data_dir=options.data,
            eval_dir=options.eval_data,
            model_dir=work / "model",
            output_dir=work / "output",
        )
        result: TrainResult = await asyncio.to_thread(
            run_training,
            train_settings,
            options.hyperparameters,
            expected_labels=options.labels,
            extra_data=feedback_dirs,
            timer=timer,
        )
        accuracy = result.evaluation.accuracy
        with timer.step("condition"):
            baseline = await _baseline(registry, settings, result, options.hyperparameters)
            reasons = []
            if accuracy < options.min_accuracy:
                reasons.append(f"accuracy {accuracy:.4f} < threshold {options.min_accuracy:.4f}")
            if (
                baseline.accuracy is not None
                and baseline.new_accuracy is not None
                and baseline.new_accuracy < baseline.accuracy
            ):
                reasons.append(
                    f"accuracy {baseline.new_accuracy:.4f} < deployed {baseline.version} "
                    f"{baseline.accuracy:.4f} on the same {baseline.images} held-out images"
                )
            passed = not reasons
            _log.info("condition", passed=passed, reasons=reasons, baseline=baseline.reason)

        with timer.step("register"):
            # No model.registered event: nothing consumes one (the registry itself is
            # where a release looks for approved versions).
            model = _register(registry, settings, options, result, passed, reasons)
            _log.info("registered", group=model.group, version=model.version, status=model.status)

    deploy: dict[str, Any] | None = None
    code = 0 if passed else EXIT_CONDITION_FAILED
    if not options.deploy:
        deploy = {"skipped": "--no-deploy"}
    elif model.status != ApprovalStatus.APPROVED:
        deploy = {"skipped": f"version is {model.status.value}"}
        code = code or EXIT_NOT_DEPLOYED
    else:
        with timer.step("deploy"):
            try:
                outcome = await deploy_version(
                    registry, settings, model.group, model.version, bus=bus
                )
                deploy = outcome.summary()
            except PipelineError as exc:
                deploy = {"failed": str(exc)}
                code = EXIT_NOT_DEPLOYED
    summary = {
        "status": _status(passed, model, deploy),
        "group": model.group,
        "version": model.version,
        "approval_status": model.status.value,
        "metrics": model.metrics,
        "evaluation": {
            "accuracy": accuracy,
            "accuracy_ci95": result.evaluation.accuracy_ci95,
            "method": result.evaluation.method,
            "samples": result.evaluation.samples,
            "misclassified": _misclassified(result.evaluation),
            "per_class": {k: v.model_dump() for k, v in result.evaluation.per_class.items()},
        },
        "condition": {
            "passed": passed,
            "min_accuracy": options.min_accuracy,
            "reasons": reasons,
            "baseline": {
                "source": baseline.source,
                "version": baseline.version,
                "accuracy": baseline.accuracy,
                "new_accuracy": baseline.new_accuracy,
                "images": baseline.images,
                "note": baseline.reason,
            },
        },
        "validation": {
            "class_counts": result.report.class_counts,
            "train": sum(result.report.train_counts.values()),
            "evaluation": sum(result.report.evaluation_counts.values()),
            "skipped": len(result.report.skipped),
            "duplicates_dropped": len(result.report.duplicates_dropped)
            + len(result.report.conflicts_dropped),
            "evaluation_duplicates_removed": len(result.report.evaluation_duplicates_removed),
            "dataset_digest": result.report.dataset_digest,
        },
        "deploy": deploy,
        "model_dir": str(registry.artifact_dir(model)),
        "timings": {**timer.timings, "total": round(time.perf_counter() - started, 3)},
        "embedding": {
            "images": result.embedded_images,
            "images_per_s": result.embed_images_per_s,
        },
    }
    return code, summary


def _misclassified(evaluation: Evaluation) -> int:
    """Evaluated images not on the confusion matrix's diagonal (listed, most confident
    first, in the artifact's misclassified.json)."""
    matrix = evaluation.confusion_matrix
    return evaluation.samples - sum(matrix[i][i] for i in range(len(matrix)))


def _status(passed: bool, model: ModelVersion, deploy: dict[str, Any] | None) -> str:
    if not passed:
        return "rejected"
    if deploy and deploy.get("live") is not None:
        return "deployed" if deploy.get("live") else "deployed-recorded"
    if deploy and "failed" in deploy:
        return "deploy-failed"
    return "registered"


def _register(
    registry: LocalRegistry,
    settings: PipelineSettings,
    options: RunOptions,
    result: TrainResult,
    passed: bool,
    reasons: list[str],
) -> ModelVersion:
    group = settings.group
    if passed and options.auto_approve:
        status, reason = ApprovalStatus.APPROVED, "condition passed (auto-approved)"
    elif passed:
        status, reason = ApprovalStatus.PENDING, "condition passed; waiting for approval"
    else:
        status, reason = ApprovalStatus.REJECTED, "; ".join(reasons)
    current = registry.deployment().current
    lineage = Lineage(
        dataset_digest=result.metadata.dataset_digest,
        data_dir=str(options.data),
        eval_dir=str(options.eval_data) if options.eval_data else None,
        parent_version=current.version if current and current.group == group else None,
        code_version=result.metadata.code_version,
        training_run=result.metadata.version,
    )
    return registry.register(
        group,
        result.model_dir,
        status=status,
        metrics=dict(result.metadata.metrics),
        lineage=lineage,
        status_reason=reason,
    )


async def _baseline(
    registry: LocalRegistry,
    settings: PipelineSettings,
    result: TrainResult,
    hp: Hyperparameters,
) -> Baseline:
    """The deployed model against the new one on images held out from both (see top)."""
    current = registry.deployment().current
    source, version, model_dir = "registry", None, None
    if current is not None:
        version, model_dir = str(current.version), Path(current.model_dir)
    else:
        async with aiohttp.ClientSession() as session:
            loaded = await ModelServerAdmin(session, settings).current()
        if loaded is not None:
            source, version = "model server", loaded.metadata.version
            model_dir = Path(loaded.model_dir)
    if model_dir is None:
        return Baseline("none", None, None, "nothing deployed: threshold only")
    labels_path = model_dir / LABELS_FILE
    if not (model_dir / MODEL_FILE).exists() or not labels_path.exists():
        return Baseline(source, version, None, f"deployed artifact {model_dir} not readable")
    labels = LabelList.model_validate_json(labels_path.read_bytes()).labels
    if set(labels) != set(result.report.labels):
        return Baseline(source, version, None, "deployed model has other labels: threshold only")
    metadata_path = model_dir / METADATA_FILE
    deployed = (
        ModelMetadata.model_validate_json(metadata_path.read_bytes())
        if metadata_path.exists()
        else None
    )
    trained_on = _training_set(model_dir)
    evaluated = result.split.evaluation
    unseen = [i for i, ex in enumerate(evaluated) if trained_on and ex.sha256 not in trained_on]
    if unseen:
        from services.model.train.evaluate import evaluate_onnx

        examples = [evaluated[i] for i in unseen]
        evaluation = await asyncio.to_thread(
            evaluate_onnx,
            model_dir / MODEL_FILE,
            labels,
            examples,
            deployed.preprocessing if deployed else Preprocessing(),
            batch_size=hp.embed_batch_size,
        )
        new = sum(result.predicted[i] == evaluated[i].label for i in unseen) / len(unseen)
        _log.info(
            "baseline_evaluated",
            version=version,
            images=len(unseen),
            deployed_accuracy=round(evaluation.accuracy, 4),
            new_accuracy=round(new, 4),
        )
        return Baseline(
            source,
            version,
            evaluation.accuracy,
            f"same {len(unseen)} evaluation images, held out from both models",
            new_accuracy=new,
            images=len(unseen),
        )
    recorded = deployed.metrics.get("accuracy") if deployed else None
    if (
        deployed is not None
        and recorded is not None
        and _same_evaluation(deployed, result, hp)
        and _same_method(model_dir, result)
    ):
        return Baseline(
            source,
            version,
            recorded,
            "same images held out the same way: the deployed model's recorded accuracy",
            # Recorded metrics are rounded to 6 places (_summary_metrics); round alike,
            # or an identical model would lose to its own record.
            new_accuracy=round(result.evaluation.accuracy, 6),
            images=result.evaluation.samples,
        )
    if trained_on is None:
        return Baseline(
            source, version, None, "deployed model lists no training images: threshold only"
        )
    return Baseline(
        source, version, None, "deployed model trained on every evaluation image: threshold only"
    )


def _training_set(model_dir: Path) -> set[str] | None:
    """Content hashes of the images the artifact was trained on (None: not recorded)."""
    path = model_dir / TRAINING_SET_FILE
    if not path.exists():
        return None
    return set(TrainingSet.model_validate_json(path.read_bytes()).sha256)


# Hyperparameters that decide which images are held out, and how (the backbone's
# embeddings decide which photos count as near-duplicates, so the grouped folds).
_EVALUATION_KEYS = ("cv_folds", "seed", "validation_fraction", "backbone")


def _same_method(model_dir: Path, result: TrainResult) -> bool:
    """Was the deployed model's figure made the same way (grouped folds or not)?"""
    path = model_dir / EVALUATION_FILE
    if not path.exists():
        return False
    deployed = Evaluation.model_validate_json(path.read_bytes())
    return deployed.method == result.evaluation.method


def _same_evaluation(deployed: ModelMetadata, result: TrainResult, hp: Hyperparameters) -> bool:
    """Was the deployed model evaluated on exactly these images, held out the same way?"""
    if deployed.dataset_digest != result.metadata.dataset_digest:
        return False
    mine = hp.as_metadata()
    return all(str(deployed.hyperparameters.get(k)) == str(mine[k]) for k in _EVALUATION_KEYS)
