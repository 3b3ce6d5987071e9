"""The human-readable side of an artifact: the model card and the code version."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from services.model.train.dataset import ValidationReport
from shared.contracts.model import Evaluation, ModelMetadata

__all__ = ["MODEL_CARD_FILE", "code_version", "model_card"]

MODEL_CARD_FILE = "model_card.md"
CONFUSION_MATRIX_FILE = "confusion_matrix.png"


def code_version(repo: Path | None = None) -> str | None:
    """`git describe --always --dirty` of the code, else $KKOT_CODE_VERSION, else None."""
    configured = os.environ.get("KKOT_CODE_VERSION")
    if configured:
        return configured
    where = repo or Path(__file__).resolve().parents[3]
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None


_METHOD_NOTES = {
    "cross-validation": (
        "Every image was classified by a head trained without it (its fold held out); "
        "the shipped head is trained on all images, and its exported ONNX graph was "
        "checked against the head through the server's preprocessing."
    ),
    "grouped cross-validation": (
        "Every image was classified by a head trained without its fold, and near-duplicate "
        "photos (crops, re-sizes, mirror images, burst shots of one scene) were kept in one "
        "fold, so no photo was judged by a head that had seen it or its twin. The figure "
        "estimates the accuracy on new photos from the same source as the training photos; "
        "photos of another kind (other cameras, other flowers mislabelled) may score lower. "
        "The shipped head is trained on all images, and its exported ONNX graph was "
        "checked against the head through the server's preprocessing."
    ),
    "hold-out split": "The exported ONNX model, served preprocessing, on the held-out images.",
    "evaluation folder": "The exported ONNX model, served preprocessing, on a separate folder.",
}


def _method_note(method: str | None) -> str:
    """How to read the figure; `method` is e.g. "5-fold cross-validation"."""
    if method and method.endswith("cross-validation"):
        grouped = method.startswith("grouped")
        return _METHOD_NOTES["grouped cross-validation" if grouped else "cross-validation"]
    return _METHOD_NOTES.get(method or "", _METHOD_NOTES["hold-out split"])


def _groups_note(evaluation: Evaluation) -> list[str]:
    if evaluation.near_duplicate_groups is None:
        return []
    return [
        f"Near-duplicate groups kept together: {evaluation.near_duplicate_groups} "
        "(groups of two or more photos).",
        "",
    ]


def _interval(evaluation: Evaluation) -> str:
    if evaluation.accuracy_ci95 is None:
        return ""
    low, high = evaluation.accuracy_ci95
    return f" (95 % interval {low:.2%}–{high:.2%})"


# Photos listed one by one on the card; the validation report lists them all.
_LISTED_OVERRIDES = 50


def _overrides_section(report: ValidationReport) -> list[str]:
    """The label overrides the run applied (nothing when there were none)."""
    applied = report.overrides
    if applied is None:
        return []
    lines = [
        "## Label overrides",
        "",
        f"Reviewed label overrides applied: file sha256 `{applied.digest}`; "
        f"{applied.decisions} decisions: {len(applied.relabelled)} relabelled, "
        f"{len(applied.excluded)} excluded, {applied.kept} kept as labelled, "
        f"{applied.unmatched} about photos not in the data.",
        "",
    ]
    listed = [f"- relabelled {entry}" for entry in applied.relabelled[:_LISTED_OVERRIDES]]
    listed += [f"- excluded {path}" for path in applied.excluded[:_LISTED_OVERRIDES]]
    return [*lines, *listed, ""] if listed else lines


def model_card(metadata: ModelMetadata, evaluation: Evaluation, report: ValidationReport) -> str:
    """model_card.md: data, hyperparameters, metrics and provenance in one page."""
    lines = [
        f"# Model card: {metadata.name} {metadata.version}",
        "",
        f"- created: {metadata.created_at.isoformat()}",
        f"- code version: {metadata.code_version or 'unknown'}",
        f"- source: {metadata.source}",
        f"- dataset digest (sha256 over sorted relative paths + content hashes): "
        f"`{metadata.dataset_digest}`",
        "",
        "## Data",
        "",
        "| class | images | train | evaluation |",
        "|---|---:|---:|---:|",
    ]
    for label in report.labels:
        lines.append(
            f"| {label} | {report.class_counts.get(label, 0)} | "
            f"{report.train_counts.get(label, 0)} | {report.evaluation_counts.get(label, 0)} |"
        )
    lines += [
        "",
        f"Skipped files: {len(report.skipped)}; duplicates dropped: "
        f"{len(report.duplicates_dropped)}; conflicting labels dropped: "
        f"{len(report.conflicts_dropped)}; evaluation images also in training removed: "
        f"{len(report.evaluation_duplicates_removed)} (details in validation_report.json).",
        "",
        *_overrides_section(report),
        "## Hyperparameters",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in sorted(metadata.hyperparameters.items())]
    lines += [
        "",
        "## Evaluation",
        "",
        f"Accuracy **{evaluation.accuracy:.2%}**{_interval(evaluation)} on "
        f"{evaluation.samples} held-out images ({evaluation.method or 'hold-out'}).",
        "",
        _method_note(evaluation.method),
        "",
        *_groups_note(evaluation),
        "| class | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, m in evaluation.per_class.items():
        lines.append(f"| {label} | {m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} | {m.support} |")
    lines += ["", f"![confusion matrix]({CONFUSION_MATRIX_FILE})", ""]
    return "\n".join(lines)
