"""Evaluation of an exported model: ONNX Runtime on held-out images, served preprocessing.

Running the artifact's own model.onnx (not the torch head) proves what will be served.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from services.model.train.dataset import Example
from services.model.train.embed import Progress, ort_session, run_batches
from shared.contracts.model import ClassMetrics, Evaluation, Preprocessing

__all__ = [
    "MISCLASSIFIED_FILE",
    "Misclassified",
    "MisclassifiedImage",
    "evaluate_onnx",
    "metrics",
    "misclassified",
    "plot_confusion_matrix",
    "predict_onnx",
    "wilson_interval",
]


MISCLASSIFIED_FILE = "misclassified.json"


class MisclassifiedImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str = Field(description="relative to the dataset folder")
    label: str
    predicted: str
    confidence: float = Field(ge=0, le=1, description="probability of `predicted`")
    label_probability: float = Field(ge=0, le=1)
    thumbnail: str | None = Field(None, description="a small copy, relative to the artifact")


class Misclassified(BaseModel):
    """misclassified.json: the held-out images the model got wrong, most confident first.

    The top of the list is where to look for mislabelled photos: on the flowers data
    most of the confident mistakes are photos of something other than their label.
    """

    model_config = ConfigDict(frozen=True)

    method: str | None = None
    images: list[MisclassifiedImage]


def misclassified(
    examples: Sequence[Example],
    probabilities: npt.NDArray[np.float32],
    labels: list[str],
    method: str | None = None,
) -> Misclassified:
    """The rows of `probabilities` (one per example) whose top class is not the label."""
    wrong = []
    for ex, row in zip(examples, probabilities, strict=True):
        top = int(row.argmax())
        if labels[top] != ex.label:
            given = float(row[labels.index(ex.label)]) if ex.label in labels else 0.0
            wrong.append(
                MisclassifiedImage(
                    path=ex.relpath,
                    label=ex.label,
                    predicted=labels[top],
                    confidence=float(row[top]),
                    label_probability=given,
                )
            )
    wrong.sort(key=lambda item: (-item.confidence, item.path))
    return Misclassified(method=method, images=wrong)


def predict_onnx(
    model_onnx: Path,
    paths: Sequence[Path],
    preprocessing: Preprocessing,
    *,
    batch_size: int = 8,
    progress: Progress | None = None,
) -> npt.NDArray[np.float32]:
    """Probabilities [len(paths), classes] from an artifact's model.onnx."""
    session = ort_session(model_onnx)
    return run_batches(session, paths, preprocessing, batch_size=batch_size, progress=progress)


def evaluate_onnx(
    model_onnx: Path,
    model_labels: list[str],
    examples: Sequence[Example],
    preprocessing: Preprocessing,
    *,
    batch_size: int = 8,
    progress: Progress | None = None,
) -> Evaluation:
    """Accuracy, per-class metrics and the confusion matrix of `model_onnx` on `examples`.

    The metrics are over the examples' labels; a model label outside them counts as wrong.
    """
    probabilities = predict_onnx(
        model_onnx,
        [ex.path for ex in examples],
        preprocessing,
        batch_size=batch_size,
        progress=progress,
    )
    predicted = [model_labels[i] for i in probabilities.argmax(axis=1)]
    return metrics([ex.label for ex in examples], predicted, model_labels)


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % for z = 1.96).

    It stays inside [0, 1] and is honest near 100 %, where the normal approximation
    claims a width of zero.
    """
    if total <= 0:
        return (0.0, 1.0)
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def metrics(
    truth: Sequence[str],
    predicted: Sequence[str],
    labels: list[str],
    *,
    method: str | None = None,
) -> Evaluation:
    """Accuracy (with its 95 % interval), per-label precision/recall/F1 and the
    confusion matrix (rows = truth)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    per_class: dict[str, ClassMetrics] = {}
    for label, i in index.items():
        tp = int(matrix[i, i])
        predicted_count = int(matrix[:, i].sum())
        support = int(matrix[i, :].sum())
        if support == 0 and predicted_count == 0:
            continue
        precision = tp / predicted_count if predicted_count else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = ClassMetrics(precision=precision, recall=recall, f1=f1, support=support)
    return Evaluation(
        accuracy=correct / len(truth) if truth else 0.0,
        per_class=per_class,
        confusion_matrix=matrix.tolist(),
        labels=labels,
        samples=len(truth),
        method=method,
        accuracy_ci95=wilson_interval(correct, len(truth)) if truth else None,
    )


def plot_confusion_matrix(evaluation: Evaluation, path: Path, title: str) -> None:
    """Write the confusion matrix as a PNG (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(evaluation.confusion_matrix, dtype=np.int64)
    size = max(4.0, 0.9 * len(evaluation.labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    try:
        ax.imshow(matrix, cmap="Blues")
        ticks = range(len(evaluation.labels))
        ax.set_xticks(list(ticks), evaluation.labels, rotation=45, ha="right")
        ax.set_yticks(list(ticks), evaluation.labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        held_out = f"\n{evaluation.method}" if evaluation.method else ""
        ax.set_title(
            f"{title}\naccuracy {evaluation.accuracy:.2%} on {evaluation.samples} images{held_out}"
        )
        top = matrix.max() if matrix.size else 0
        for (row, col), value in np.ndenumerate(matrix):
            colour = "white" if top and value > top / 2 else "black"
            ax.text(col, row, str(value), ha="center", va="center", color=colour)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
