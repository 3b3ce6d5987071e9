"""One training job: validate -> embed -> cross-validate -> train -> export -> evaluate -> write.

`run_training(settings, hp)` is what both `python -m services.model.train` (the
SageMaker container's `train`) and `kkot pipeline run` call. It is a list of named steps;
each is a function that reads the job (`TrainingJob`) and the typed results of the steps
before it (`Validated`, `Embedded`, `Trained`, `Evaluated`) and returns its own.
Every step is timed; the embedding step logs a progress line every `progress_every`
images.

The artifact is built in one staging folder (services.model.artifact) and, only when
every step succeeded, copied into `settings.model_dir`; each file is written once.
Besides the shared.contracts.model files it holds:

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
(crops, re-sizes, mirror images, burst shots: services.model.train.groups) share a fold,
so no photo is judged by a head that saw its twin — and the shipped head is trained on
all images; the exported ONNX graph is then checked against that head on the smoke
candidates, through the server's preprocessing. With an evaluation folder (the
`validation` channel / --eval-data), or `cv_folds=0` (a hold-out split), the exported
model itself is run on the evaluation images.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.model.artifact import Install, staged_artifact, write_record
from services.model.train.backbones import backbone_spec
from services.model.train.crossval import mirror_mean, out_of_fold_probabilities
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
from services.model.train.embed import (
    backbone_module,
    embed_images,
    embed_images_torch,
    export_backbone,
    training_device,
)
from services.model.train.errors import DatasetError
from services.model.train.evaluate import (
    MISCLASSIFIED_FILE,
    metrics,
    misclassified,
    plot_confusion_matrix,
    predict_onnx,
)
from services.model.train.export import check_export, export_classifier, smoke_candidates
from services.model.train.groups import (
    NEAR_DUPLICATE_SIMILARITY,
    group_sizes,
    near_duplicate_groups,
    perceptual_hashes,
)
from services.model.train.head import TrainedHead, train_head
from services.model.train.hyperparameters import Hyperparameters
from services.model.train.overrides import read_overrides, summarise
from services.model.train.report import (
    CONFUSION_MATRIX_FILE,
    MODEL_CARD_FILE,
    code_version,
    model_card,
)
from services.model.train.settings import TrainSettings
from services.model.train.smoke_set import write_smoke_set
from services.model.train.thumbnails import write_thumbnails
from services.model.train.timing import StepTimer, progress_logger
from shared.catalog import flower_catalog, lookup_entry
from shared.contracts.model import (
    CATALOG_FILE,
    EVALUATION_FILE,
    LABELS_FILE,
    METADATA_FILE,
    MODEL_FILE,
    Catalog,
    Evaluation,
    LabelList,
    ModelMetadata,
    Preprocessing,
)
from shared.logging import get_logger

__all__ = [
    "Embedded",
    "Evaluated",
    "StepTimer",
    "TrainResult",
    "Trained",
    "TrainingJob",
    "Validated",
    "read_label_file",
    "run_training",
]

_log = get_logger("kkot.train")

Probabilities = npt.NDArray[np.float32]


# -- the state the steps pass on ------------------------------------------------------


@dataclass(frozen=True)
class TrainingJob:
    """What the job was asked to do: every step reads it."""

    settings: TrainSettings
    hp: Hyperparameters
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    expected_labels: list[str] | None = None
    extra_data: tuple[Path, ...] = ()
    progress_every: int = 200


@dataclass(frozen=True)
class Validated:
    """The scanned data: what trains, what evaluates, and the report of it."""

    report: ValidationReport
    split: Split

    @property
    def labels(self) -> list[str]:
        return self.report.labels


@dataclass(frozen=True)
class Embedded:
    """The backbone and the training images' embeddings.

    Rows are `split.train` in order, then (with `flip_augment`) their mirror images in
    the same order; `targets` are the class indices of the rows. `mirrors` holds the
    mirror images' embeddings (one row per image) whenever they were computed — for
    `flip_augment` or for `tta` — and is None otherwise.
    """

    backbone: Any  # a torch module (torch is imported inside embed only)
    embeddings: npt.NDArray[np.float32]
    targets: npt.NDArray[np.int64]
    seconds: float
    mirrors: npt.NDArray[np.float32] | None = None

    @property
    def views(self) -> npt.NDArray[np.float32]:
        """The images' embeddings, then their mirror images' when known (for grouping)."""
        if self.mirrors is None:
            return self.embeddings
        return np.concatenate([self.embeddings[: len(self.mirrors)], self.mirrors])

    @property
    def embedded_images(self) -> int:
        """Images run through the backbone (mirror images count)."""
        n = len(self.mirrors) if self.mirrors is not None else len(self.embeddings)
        return n * (2 if self.mirrors is not None else 1)

    @property
    def images_per_s(self) -> float:
        return round(self.embedded_images / self.seconds, 1) if self.seconds else 0.0


@dataclass(frozen=True)
class Trained:
    """The shipped head and, under cross-validation, each training image's out-of-fold
    probabilities (rows as `split.train`)."""

    head: TrainedHead
    held_out: Probabilities | None


@dataclass(frozen=True)
class Evaluated:
    """The held-out evaluation, and the images the smoke set is chosen from."""

    evaluation: Evaluation
    probabilities: Probabilities  # one row per split.evaluation image
    predicted: list[str]
    smoke_examples: list[Example]
    smoke_probabilities: Probabilities


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


# -- the job ----------------------------------------------------------------------------


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
    timer = timer or StepTimer()
    _limit_torch_threads()
    if expected_labels is None and settings.labels_file is not None:
        expected_labels = read_label_file(settings.labels_file)
    job = TrainingJob(
        settings,
        hp,
        # The backbone fixes the input size: the artifact's metadata carries it to the server.
        preprocessing=backbone_spec(hp.backbone).preprocessing,
        expected_labels=expected_labels,
        extra_data=tuple(extra_data),
        progress_every=progress_every,
    )
    with timer.step("validate"):
        data = validate(job)
    with (
        tempfile.TemporaryDirectory(prefix="kkot-train-") as work,
        staged_artifact(settings.model_dir, Install.FILL) as staging,
    ):
        with timer.step("embed"):
            embedded = embed(job, data, Path(work))
        held_out = None
        if data.split.folds:
            with timer.step("group"):
                data = group(job, data, embedded)
            with timer.step("cross-validate"):
                held_out = cross_validate(job, data, embedded)
        with timer.step("train"):
            trained = Trained(train(job, data, embedded), held_out)
        with timer.step("export"):
            export(job, data, embedded, trained.head, staging)
        with timer.step("evaluate"):
            evaluated = evaluate(job, data, embedded, trained, staging)
            metadata = write_records(job, data, trained.head, evaluated, staging)
    return TrainResult(
        model_dir=settings.model_dir,
        metadata=metadata,
        evaluation=evaluated.evaluation,
        report=data.report,
        split=data.split,
        predicted=evaluated.predicted,
        timings=dict(timer.timings),
        embedded_images=embedded.embedded_images,
        embed_images_per_s=embedded.images_per_s,
    )


def _limit_torch_threads() -> None:
    import torch  # the training image's alone: importing this module must not need it

    # Two cores per job: more threads only contend on the machines this runs on.
    torch.set_num_threads(2)


# -- the steps --------------------------------------------------------------------------


def validate(job: TrainingJob) -> Validated:
    """Scan the data (and the evaluation folder), split it, and write the report."""
    report, split = _scan_and_split(job)
    directory = job.settings.resolved_output_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    write_record(directory, VALIDATION_REPORT_FILE, report)
    return Validated(report, split)


def embed(job: TrainingJob, data: Validated, work: Path) -> Embedded:
    """The frozen backbone's embedding of every training image (and its mirror image):
    ONNX Runtime on CPU, the torch module on a GPU when the instance has one."""
    backbone = backbone_module(job.hp.backbone)
    paths = [ex.path for ex in data.split.train]
    progress = progress_logger("embed", job.progress_every)
    device = training_device()
    # Mirror images: trained on with flip_augment, averaged in at serving time with tta.
    flip = job.hp.flip_augment or job.hp.tta
    _log.info("embedding", backbone=job.hp.backbone, device=device, images=len(paths))
    started = time.perf_counter()
    if device == "cpu":
        export_backbone(backbone, work / "backbone.onnx", job.preprocessing.image_size)
        started = time.perf_counter()
        embeddings = embed_images(
            work / "backbone.onnx",
            paths,
            job.preprocessing,
            batch_size=job.hp.embed_batch_size,
            flip=flip,
            progress=progress,
        )
    else:
        embeddings = embed_images_torch(
            backbone,
            paths,
            job.preprocessing,
            device=device,
            batch_size=max(32, job.hp.embed_batch_size),
            flip=flip,
            progress=progress,
        )
    seconds = time.perf_counter() - started
    n = len(paths)
    mirrors = embeddings[n:] if flip else None
    if not job.hp.flip_augment:
        embeddings = embeddings[:n]
    targets = np.array([data.labels.index(ex.label) for ex in data.split.train], dtype=np.int64)
    if job.hp.flip_augment:
        targets = np.concatenate([targets, targets])
    return Embedded(backbone, embeddings, targets, seconds, mirrors)


def group(job: TrainingJob, data: Validated, embedded: Embedded) -> Validated:
    """The cross-validation folds redrawn with near-duplicate photos kept together."""
    split = data.split
    n = len(split.train)
    hashes = perceptual_hashes([ex.path for ex in split.train])
    groups = near_duplicate_groups(
        embedded.views, n, NEAR_DUPLICATE_SIMILARITY[job.hp.backbone], hashes=hashes
    )
    _log.info("near_duplicates_grouped", images=n, groups_of_two_or_more=_shared_groups(groups))
    return Validated(data.report, split.grouped(groups, job.hp.seed))


def cross_validate(job: TrainingJob, data: Validated, embedded: Embedded) -> Probabilities:
    """Out-of-fold probabilities: each training image classified by a head trained
    without its fold."""
    split = data.split
    held_out = out_of_fold_probabilities(
        embedded.embeddings,
        embedded.targets,
        split.folds,
        len(data.labels),
        job.hp,
        mirrors=embedded.mirrors if job.hp.tta else None,
    )
    n = len(split.train)
    accuracy = float((held_out.argmax(axis=1) == embedded.targets[:n]).mean())
    _log.info("cross_validated", folds=split.cv_folds, accuracy=round(accuracy, 4))
    return held_out


def train(job: TrainingJob, data: Validated, embedded: Embedded) -> TrainedHead:
    """The shipped head, trained on every training image."""
    head = train_head(embedded.embeddings, embedded.targets, len(data.labels), job.hp)
    _log.info("head_trained", train_accuracy=round(head.train_accuracy, 4), loss=head.final_loss)
    return head


def export(
    job: TrainingJob, data: Validated, embedded: Embedded, head: TrainedHead, staging: Path
) -> None:
    """model.onnx (backbone + head + softmax; with `tta` the mirror image too), labels.json
    and catalog.json."""
    export_classifier(
        embedded.backbone,
        head,
        staging / MODEL_FILE,
        job.preprocessing.image_size,
        tta=job.hp.tta,
    )
    write_record(staging, LABELS_FILE, LabelList(labels=data.labels))
    write_record(staging, CATALOG_FILE, _catalog(data.labels))


def evaluate(
    job: TrainingJob, data: Validated, embedded: Embedded, trained: Trained, staging: Path
) -> Evaluated:
    """Held-out metrics; under cross-validation, also check the export against the head."""
    split, labels, held_out = data.split, data.labels, trained.held_out
    if held_out is not None:
        grouped = "grouped " if split.groups else ""
        method = f"{grouped}{split.cv_folds}-fold cross-validation"
        probabilities = held_out
        # Cross-validation ran the head, not the exported graph: check the graph.
        per_class = max(4, 2 * job.hp.smoke_images_per_class)
        rows = smoke_candidates(split.train, held_out, labels, per_class)
        smoke_examples = [split.train[i] for i in rows]
        # What the graph computes from each image: its embedding, or with `tta` the mean
        # of its and its mirror image's.
        n = len(split.train)
        shown = embedded.embeddings[:n]
        if job.hp.tta and embedded.mirrors is not None:
            shown = mirror_mean(shown, embedded.mirrors)
        smoke_probabilities = check_export(
            staging / MODEL_FILE,
            trained.head,
            smoke_examples,
            shown[rows],
            job.preprocessing,
            batch_size=job.hp.embed_batch_size,
        )
    else:
        method = "evaluation folder" if data.report.eval_dir else "hold-out split"
        probabilities = predict_onnx(
            staging / MODEL_FILE,
            [ex.path for ex in split.evaluation],
            job.preprocessing,
            batch_size=job.hp.embed_batch_size,
            progress=progress_logger("evaluate", job.progress_every),
        )
        smoke_examples, smoke_probabilities = split.evaluation, probabilities
    predicted = [labels[i] for i in probabilities.argmax(axis=1)]
    evaluation = metrics([ex.label for ex in split.evaluation], predicted, labels, method=method)
    if split.groups:
        evaluation = evaluation.model_copy(
            update={"near_duplicate_groups": _shared_groups(split.groups)}
        )
    _log.info(
        "evaluated",
        accuracy=round(evaluation.accuracy, 4),
        samples=evaluation.samples,
        method=method,
    )
    return Evaluated(evaluation, probabilities, predicted, smoke_examples, smoke_probabilities)


def write_records(
    job: TrainingJob, data: Validated, head: TrainedHead, evaluated: Evaluated, staging: Path
) -> ModelMetadata:
    """Every file beside the model: metadata (once, with the evaluation's metrics),
    evaluation, reports, mistakes, the confusion matrix and the smoke set."""
    metadata = _metadata(job, data.report, head.train_accuracy, evaluated.evaluation)
    evaluation, split, labels = evaluated.evaluation, data.split, data.labels
    write_record(staging, METADATA_FILE, metadata)
    write_record(staging, EVALUATION_FILE, evaluation)
    write_record(staging, VALIDATION_REPORT_FILE, data.report)
    trained_on = TrainingSet(sha256=sorted({ex.sha256 for ex in split.train}))
    (staging / TRAINING_SET_FILE).write_text(trained_on.model_dump_json(), encoding="utf-8")
    (staging / MODEL_CARD_FILE).write_text(
        model_card(metadata, evaluation, data.report), encoding="utf-8"
    )
    mistakes = misclassified(split.evaluation, evaluated.probabilities, labels, evaluation.method)
    write_record(staging, MISCLASSIFIED_FILE, write_thumbnails(staging, split.evaluation, mistakes))
    plot_confusion_matrix(
        evaluation, staging / CONFUSION_MATRIX_FILE, f"{metadata.name} {metadata.version}"
    )
    write_smoke_set(
        staging,
        evaluated.smoke_examples,
        evaluated.smoke_probabilities,
        labels,
        job.hp.smoke_images_per_class,
    )
    return metadata


# -- helpers ----------------------------------------------------------------------------


def _shared_groups(groups: Sequence[int]) -> int:
    """How many groups hold two or more images."""
    return sum(count for size, count in group_sizes(groups).items() if size > 1)


def _scan_and_split(job: TrainingJob) -> tuple[ValidationReport, Split]:
    settings, hp, preprocessing = job.settings, job.hp, job.preprocessing
    overrides = read_overrides(settings.resolved_overrides_file())
    scan = scan_dataset(
        settings.data_dir,
        min_images=hp.min_images_per_class,
        expected_labels=job.expected_labels,
        target_short_side=preprocessing.resize_size,
        extra_roots=job.extra_data,
        overrides=overrides.overrides.effective() if overrides else None,
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
        dataset_digest=dataset_digest(
            scan.examples + (evaluation or []), overrides.digest if overrides else None
        ),
        overrides=summarise(
            overrides,
            [f"{s.path}: {s.reason}" for s in scan.relabelled],
            [s.path for s in scan.excluded],
            scan.overrides_matched,
        )
        if overrides
        else None,
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
    return report, split


def _metadata(
    job: TrainingJob, report: ValidationReport, train_accuracy: float, evaluation: Evaluation
) -> ModelMetadata:
    now = datetime.now(UTC)
    spec = backbone_spec(job.hp.backbone)
    return ModelMetadata(
        name=job.hp.model_name,
        version=now.strftime("%Y%m%dT%H%M%SZ"),
        num_classes=len(report.labels),
        preprocessing=job.preprocessing,
        source=(
            f"kkot training job: {spec.architecture} (ImageNet weights from "
            f"{spec.weights_package}) + linear head"
            f"{' + mirror-image averaging' if job.hp.tta else ''} on "
            f"{sum(report.train_counts.values())} images"
        ),
        created_at=now,
        dataset_digest=report.dataset_digest,
        metrics={"train_accuracy": round(train_accuracy, 6), **_summary_metrics(evaluation)},
        hyperparameters=job.hp.as_metadata(),
        code_version=code_version(),
    )


def _catalog(labels: list[str]) -> Catalog:
    """The project's catalog entries for `labels` (a label it lacks keeps its own name)."""
    catalog = flower_catalog()
    return Catalog(entries=[lookup_entry(label, catalog) for label in labels])


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
