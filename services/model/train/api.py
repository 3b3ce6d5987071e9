"""The training package's public API: what other packages (the pipeline, the AWS
tools) import. Everything else in services.model.train is its own business.

    run_training(settings, hp, ...) -> TrainResult    one training job (job.py)
    add_train_arguments, run_job                       `kkot train`'s flags and command
    read_artifact_description(model_dir)               what a trained artifact says of itself
    evaluate_artifact(model_dir, examples, ...)        a trained artifact on labelled images
    trained_on(model_dir)                              the images an artifact learnt from
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.model.train.command import add_train_arguments, run_job
from services.model.train.dataset import TRAINING_SET_FILE, Example, TrainingSet, split_dataset
from services.model.train.errors import DatasetError, TrainingError
from services.model.train.evaluate import Misclassified, evaluate_onnx
from services.model.train.hyperparameters import Hyperparameters, load_hyperparameters
from services.model.train.job import TrainResult, read_label_file, run_training
from services.model.train.settings import TrainSettings
from services.model.train.smoke_set import SmokeSet, load_smoke_set
from services.model.train.timing import StepTimer
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

__all__ = [
    "ArtifactDescription",
    "DatasetError",
    "Example",
    "Hyperparameters",
    "Misclassified",
    "SmokeSet",
    "StepTimer",
    "TrainResult",
    "TrainSettings",
    "TrainingError",
    "TrainingSet",
    "add_train_arguments",
    "evaluate_artifact",
    "load_hyperparameters",
    "load_smoke_set",
    "read_artifact_description",
    "read_label_file",
    "run_job",
    "run_training",
    "split_dataset",
    "trained_on",
]


@dataclass(frozen=True)
class ArtifactDescription:
    """An artifact's labels and (when it has them) metadata and held-out evaluation:
    read from its folder, or from a model server's ModelDescription."""

    labels: list[str]
    metadata: ModelMetadata | None
    evaluation: Evaluation | None = None


def read_artifact_description(model_dir: Path) -> ArtifactDescription | None:
    """The labels and metadata of the artifact at `model_dir`; None when it has no
    model or no label list (not an artifact this code can run)."""
    labels_path = model_dir / LABELS_FILE
    if not (model_dir / MODEL_FILE).exists() or not labels_path.exists():
        return None
    labels = LabelList.model_validate_json(labels_path.read_bytes()).labels
    metadata_path, evaluation_path = model_dir / METADATA_FILE, model_dir / EVALUATION_FILE
    metadata = (
        ModelMetadata.model_validate_json(metadata_path.read_bytes())
        if metadata_path.exists()
        else None
    )
    evaluation = (
        Evaluation.model_validate_json(evaluation_path.read_bytes())
        if evaluation_path.exists()
        else None
    )
    return ArtifactDescription(labels, metadata, evaluation)


def evaluate_artifact(
    model_dir: Path, examples: Sequence[Example], *, batch_size: int = 8
) -> Evaluation:
    """The artifact at `model_dir` run on `examples`, through its own preprocessing."""
    description = read_artifact_description(model_dir)
    if description is None:
        raise TrainingError(f"{model_dir} is not a model artifact")
    preprocessing = description.metadata.preprocessing if description.metadata else None
    return evaluate_onnx(
        model_dir / MODEL_FILE,
        description.labels,
        examples,
        preprocessing or Preprocessing(),
        batch_size=batch_size,
    )


def trained_on(model_dir: Path) -> set[str] | None:
    """Content hashes of the images the artifact was trained on (None: not recorded)."""
    path = model_dir / TRAINING_SET_FILE
    if not path.exists():
        return None
    return set(TrainingSet.model_validate_json(path.read_bytes()).sha256)
