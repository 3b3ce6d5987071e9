"""`kkot pipeline run`: validate -> train -> evaluate -> condition -> register -> deploy.

Training is services.model.train.api's `run_training`; the result is a `RunSummary`
(services.pipeline.summary). The condition is shared.deploy_condition's (the SageMaker
pipeline definition is generated from the same rule): it passes when the new model's
held-out accuracy is at least `min_accuracy` AND not below the deployed model's on the
SAME images, held out from both:

- the new run's evaluation images that the deployed registry version did not train on
  (its training_set.json): its model.onnx is run on them, and the new model's held-out
  predictions on exactly those images are compared with it;
- when there are none (a re-run on the same data) but the deployed model was evaluated
  on the same images the same way (same dataset digest, folds / split and seed), its
  recorded held-out accuracy is the baseline;
- otherwise (other labels, no training list, trained on every evaluation image) there is
  no fair baseline and only the threshold applies; the summary says which.

With nothing deployed from the registry, the model server's own model is the baseline,
known only by what its admin API says of it (labels, metadata): the pipeline does not
read files on the server's disk, so only the recorded-accuracy comparison applies.

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

import aiohttp

from services.model.train.api import (
    ArtifactDescription,
    Hyperparameters,
    StepTimer,
    TrainResult,
    TrainSettings,
    evaluate_artifact,
    read_artifact_description,
    run_training,
    trained_on,
)
from services.pipeline.condition import decide
from services.pipeline.deploy import ModelServerAdmin, deploy_version
from services.pipeline.errors import PipelineError
from services.pipeline.feedback import export_feedback
from services.pipeline.registry import ApprovalStatus, Lineage, LocalRegistry, ModelVersion
from services.pipeline.settings import PipelineSettings
from services.pipeline.summary import (
    BaselineSummary,
    ConditionSummary,
    Deployed,
    DeployFailed,
    DeploySkipped,
    EmbeddingSummary,
    EvaluationSummary,
    OverridesSummary,
    RunStatus,
    RunSummary,
    ValidationSummary,
)
from shared.contracts.model import Evaluation, ModelMetadata
from shared.contracts.review import OverridesApplied
from shared.events import EventBus
from shared.logging import get_logger

__all__ = ["RunOptions", "run_pipeline"]

_log = get_logger("kkot.pipeline")

# Exit codes of `kkot pipeline run` besides 0 and 1 (a failed step).
EXIT_CONDITION_FAILED = 3
EXIT_NOT_DEPLOYED = 4

DeployReport = Deployed | DeploySkipped | DeployFailed


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
    # A reviewed label-overrides file (shared.contracts.review.LabelOverrides).
    overrides: Path | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)


async def run_pipeline(
    options: RunOptions, settings: PipelineSettings, *, bus: EventBus | None = None
) -> tuple[int, RunSummary]:
    """Run every step; return (exit code, summary)."""
    timer = StepTimer(_log)
    started = time.perf_counter()
    registry = LocalRegistry(settings.registry_dir)
    with tempfile.TemporaryDirectory(prefix="kkot-pipeline-") as work_name:
        work = Path(work_name)
        result = await _train(options, work, timer)
        with timer.step("condition"):
            baseline = await _baseline(registry, settings, result, options.hyperparameters)
            condition = decide(result.evaluation.accuracy, options.min_accuracy, baseline)
            _log.info(
                "condition",
                passed=condition.passed,
                reasons=condition.reasons,
                baseline=baseline.note,
            )
        with timer.step("register"):
            # No model.registered event: nothing consumes one (the registry itself is
            # where a release looks for approved versions).
            model = _register(registry, settings, options, result, condition)
            _log.info("registered", group=model.group, version=model.version, status=model.status)

    deploy: DeployReport | None = _not_deployed(options, model)
    if deploy is None:
        with timer.step("deploy"):
            deploy = await _deploy(registry, settings, model, bus)
    code = _exit_code(condition.passed, deploy, options)
    summary = RunSummary(
        status=_status(condition.passed, deploy),
        group=model.group,
        version=model.version,
        approval_status=model.status,
        metrics=model.metrics,
        evaluation=_evaluation_summary(result.evaluation),
        condition=condition,
        validation=_validation_summary(result),
        deploy=deploy,
        model_dir=str(registry.artifact_dir(model)),
        timings={**timer.timings, "total": round(time.perf_counter() - started, 3)},
        embedding=EmbeddingSummary(
            images=result.embedded_images, images_per_s=result.embed_images_per_s
        ),
    )
    return code, summary


async def _train(options: RunOptions, work: Path, timer: StepTimer) -> TrainResult:
    """Merge the feedback (when asked), then run the training job into `work`."""
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
        overrides_file=options.overrides,
    )
    return await asyncio.to_thread(
        run_training,
        train_settings,
        options.hyperparameters,
        expected_labels=options.labels,
        extra_data=feedback_dirs,
        timer=timer,
    )


async def _deploy(
    registry: LocalRegistry,
    settings: PipelineSettings,
    model: ModelVersion,
    bus: EventBus | None,
) -> Deployed | DeployFailed:
    """Deploy the version; a failed deploy (rolled back) is reported, not raised."""
    try:
        outcome = await deploy_version(registry, settings, model.group, model.version, bus=bus)
    except PipelineError as exc:
        return DeployFailed(failed=str(exc))
    return outcome.summary()


def _not_deployed(options: RunOptions, model: ModelVersion) -> DeploySkipped | None:
    """Why this version is not to be deployed; None when it is."""
    if not options.deploy:
        return DeploySkipped(skipped="--no-deploy")
    if model.status != ApprovalStatus.APPROVED:
        return DeploySkipped(skipped=f"version is {model.status.value}")
    return None


def _exit_code(passed: bool, deploy: DeployReport, options: RunOptions) -> int:
    if isinstance(deploy, DeployFailed):
        return EXIT_NOT_DEPLOYED
    code = 0 if passed else EXIT_CONDITION_FAILED
    if options.deploy and not isinstance(deploy, Deployed):
        return code or EXIT_NOT_DEPLOYED  # asked to deploy, but not Approved
    return code


def _evaluation_summary(evaluation: Evaluation) -> EvaluationSummary:
    matrix = evaluation.confusion_matrix
    # Evaluated images off the confusion matrix's diagonal (listed, most confident
    # first, in the artifact's misclassified.json).
    misclassified = evaluation.samples - sum(matrix[i][i] for i in range(len(matrix)))
    return EvaluationSummary(
        accuracy=evaluation.accuracy,
        accuracy_ci95=evaluation.accuracy_ci95,
        method=evaluation.method,
        samples=evaluation.samples,
        misclassified=misclassified,
        per_class=evaluation.per_class,
    )


def _validation_summary(result: TrainResult) -> ValidationSummary:
    report = result.report
    return ValidationSummary(
        class_counts=report.class_counts,
        train=sum(report.train_counts.values()),
        evaluation=sum(report.evaluation_counts.values()),
        skipped=len(report.skipped),
        duplicates_dropped=len(report.duplicates_dropped) + len(report.conflicts_dropped),
        evaluation_duplicates_removed=len(report.evaluation_duplicates_removed),
        dataset_digest=report.dataset_digest,
        overrides=_overrides_summary(report.overrides),
    )


def _overrides_summary(applied: OverridesApplied | None) -> OverridesSummary | None:
    if applied is None:
        return None
    return OverridesSummary(
        digest=applied.digest,
        decisions=applied.decisions,
        relabelled=len(applied.relabelled),
        excluded=len(applied.excluded),
        kept=applied.kept,
        unmatched=applied.unmatched,
    )


def _overrides_lineage(applied: OverridesApplied | None) -> dict[str, str | int]:
    """The label overrides a version was trained with, as lineage fields."""
    if applied is None:
        return {}
    return {
        "overrides_digest": applied.digest,
        "overrides_relabelled": len(applied.relabelled),
        "overrides_excluded": len(applied.excluded),
    }


def _status(passed: bool, deploy: DeployReport) -> RunStatus:
    if not passed:
        return RunStatus.REJECTED
    if isinstance(deploy, Deployed):
        return RunStatus.DEPLOYED if deploy.live else RunStatus.DEPLOYED_RECORDED
    if isinstance(deploy, DeployFailed):
        return RunStatus.DEPLOY_FAILED
    return RunStatus.REGISTERED


def _register(
    registry: LocalRegistry,
    settings: PipelineSettings,
    options: RunOptions,
    result: TrainResult,
    condition: ConditionSummary,
) -> ModelVersion:
    group = settings.group
    if condition.passed and options.auto_approve:
        status, reason = ApprovalStatus.APPROVED, "condition passed (auto-approved)"
    elif condition.passed:
        status, reason = ApprovalStatus.PENDING, "condition passed; waiting for approval"
    else:
        status, reason = ApprovalStatus.REJECTED, "; ".join(condition.reasons)
    current = registry.deployment().current
    lineage = Lineage(
        dataset_digest=result.metadata.dataset_digest,
        data_dir=str(options.data),
        eval_dir=str(options.eval_data) if options.eval_data else None,
        parent_version=current.version if current and current.group == group else None,
        code_version=result.metadata.code_version,
        training_run=result.metadata.version,
        **_overrides_lineage(result.report.overrides),
    )
    return registry.register(
        group,
        result.model_dir,
        status=status,
        metrics=dict(result.metadata.metrics),
        lineage=lineage,
        status_reason=reason,
    )


# -- the baseline -----------------------------------------------------------------------


async def _baseline(
    registry: LocalRegistry,
    settings: PipelineSettings,
    result: TrainResult,
    hp: Hyperparameters,
) -> BaselineSummary:
    """The deployed model against the new one on images held out from both (see top)."""
    current = registry.deployment().current
    if current is not None:
        return await _registry_baseline(str(current.version), Path(current.model_dir), result, hp)
    async with aiohttp.ClientSession() as session:
        loaded = await ModelServerAdmin(session, settings).current()
    if loaded is None:
        return _no_baseline("none", None, "nothing deployed: threshold only")
    source, version = "model server", loaded.metadata.version
    if set(loaded.labels) != set(result.report.labels):
        return _no_baseline(source, version, "deployed model has other labels: threshold only")
    served = ArtifactDescription(loaded.labels, loaded.metadata, loaded.evaluation)
    recorded = _recorded_baseline(source, version, served, result, hp)
    return recorded or _no_baseline(
        source,
        version,
        "the served model is not in the registry and was not evaluated on these images "
        "the same way: threshold only",
    )


async def _registry_baseline(
    version: str, model_dir: Path, result: TrainResult, hp: Hyperparameters
) -> BaselineSummary:
    source = "registry"
    description = read_artifact_description(model_dir)
    if description is None:
        return _no_baseline(source, version, f"deployed artifact {model_dir} not readable")
    if set(description.labels) != set(result.report.labels):
        return _no_baseline(source, version, "deployed model has other labels: threshold only")
    training_images = trained_on(model_dir)
    evaluated = result.split.evaluation
    unseen = [
        i for i, ex in enumerate(evaluated) if training_images and ex.sha256 not in training_images
    ]
    if unseen:
        evaluation = await asyncio.to_thread(
            evaluate_artifact,
            model_dir,
            [evaluated[i] for i in unseen],
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
        return BaselineSummary(
            source=source,
            version=version,
            accuracy=evaluation.accuracy,
            new_accuracy=new,
            images=len(unseen),
            note=f"same {len(unseen)} evaluation images, held out from both models",
        )
    recorded = _recorded_baseline(source, version, description, result, hp)
    if recorded is not None:
        return recorded
    if training_images is None:
        return _no_baseline(
            source, version, "deployed model lists no training images: threshold only"
        )
    return _no_baseline(
        source, version, "deployed model trained on every evaluation image: threshold only"
    )


def _recorded_baseline(
    source: str,
    version: str,
    deployed: ArtifactDescription,
    result: TrainResult,
    hp: Hyperparameters,
) -> BaselineSummary | None:
    """The deployed model's recorded accuracy, when it was evaluated on exactly these
    images held out the same way; else None."""
    metadata = deployed.metadata
    recorded = metadata.metrics.get("accuracy") if metadata else None
    if metadata is None or recorded is None or not _same_evaluation(metadata, result, hp):
        return None
    # Made the same way too: a figure from ungrouped folds is no baseline for grouped ones.
    if deployed.evaluation is None or deployed.evaluation.method != result.evaluation.method:
        return None
    return BaselineSummary(
        source=source,
        version=version,
        accuracy=recorded,
        # Recorded metrics are rounded to 6 places (the training job's metadata); round
        # alike, or an identical model would lose to its own record.
        new_accuracy=round(result.evaluation.accuracy, 6),
        images=result.evaluation.samples,
        note="same images held out the same way: the deployed model's recorded accuracy",
    )


def _no_baseline(source: str, version: str | None, note: str) -> BaselineSummary:
    return BaselineSummary(source=source, version=version, accuracy=None, note=note)


# Hyperparameters that decide which images are held out, and how (the backbone's
# embeddings decide which photos count as near-duplicates, so the grouped folds).
_EVALUATION_KEYS = ("cv_folds", "seed", "validation_fraction", "backbone")


def _same_evaluation(deployed: ModelMetadata, result: TrainResult, hp: Hyperparameters) -> bool:
    """Was the deployed model evaluated on exactly these images, held out the same way?"""
    if deployed.dataset_digest != result.metadata.dataset_digest:
        return False
    mine = hp.as_metadata()
    return all(str(deployed.hyperparameters.get(k)) == str(mine[k]) for k in _EVALUATION_KEYS)
