"""From what WAS says about the model to the model page's charts, in the reader's
language; and the bytes of an example photo."""

from __future__ import annotations

import base64
import binascii

from markupsafe import Markup

from services.web.charts import (
    ClassBars,
    HistoryPoint,
    accuracy_history,
    class_bars,
    confusion_matrix,
)
from services.web.i18n import Messages
from shared.contracts.classification import CurrentModel, RegisteredVersion
from shared.contracts.model import ExamplePhoto

__all__ = ["example_bytes", "model_charts"]

# A confusion matrix past this many classes is unreadable as a picture.
MAX_MATRIX_CLASSES = 20


def example_bytes(example: ExamplePhoto) -> bytes:
    """The JPEG bytes of an example's data: URI."""
    _, _, data = example.image.partition(",")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        return b""


def model_charts(
    model: CurrentModel,
    versions: list[RegisteredVersion],
    names: dict[str, str],
    t: Messages,
) -> dict[str, Markup]:
    """The charts the model's evaluation and the registry's history allow, by name."""
    charts: dict[str, Markup] = {}
    evaluation = model.evaluation
    if evaluation is not None and evaluation.labels:
        shown = [names.get(label, label) for label in evaluation.labels]
        if evaluation.confusion_matrix and len(shown) <= MAX_MATRIX_CLASSES:
            charts["confusion"] = confusion_matrix(
                shown,
                evaluation.confusion_matrix,
                title=t("model.confusion_title"),
                actual=t("model.actual"),
                predicted=t("model.predicted"),
            )
        rows = [
            ClassBars(names.get(label, label), metrics.precision, metrics.recall)
            for label, metrics in evaluation.per_class.items()
        ]
        if rows:
            charts["per_class"] = class_bars(
                rows,
                title=t("model.per_class_title"),
                precision=t("model.precision"),
                recall=t("model.recall"),
            )
    points = [
        HistoryPoint(
            label=f"v{version.version}",
            created_at=version.created_at,
            accuracy=version.accuracy,
            deployed=version.deployed,
        )
        for version in versions
        if version.accuracy is not None
    ]
    if points:
        charts["history"] = accuracy_history(
            points, title=t("model.history_title"), deployed=t("model.deployed")
        )
    return charts
