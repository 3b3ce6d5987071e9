"""The model artifact's contracts.

The artifact is a folder (what SageMaker mounts at `/opt/ml/model` and packs as
`model.tar.gz`):

    model.onnx        one ONNX graph: float32 NCHW input -> class probabilities
    labels.json       `LabelList`: class labels in output order
    catalog.json      `Catalog`: display names and descriptions (ko, en) per label
    metadata.json     `ModelMetadata`: name, version, preprocessing, source, metrics
    evaluation.json   `Evaluation` (trained models only): metrics on the hold-out set
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, PrivateAttr

from shared.contracts.base import Contract

MODEL_FILE = "model.onnx"
LABELS_FILE = "labels.json"
CATALOG_FILE = "catalog.json"
METADATA_FILE = "metadata.json"
EVALUATION_FILE = "evaluation.json"

Language = Literal["en", "ko"]


class Preprocessing(Contract):
    """How an image becomes the model's input; training and serving both read this."""

    image_size: int = Field(224, ge=32, le=1024, description="square crop fed to the model")
    resize_size: int = Field(256, ge=32, le=2048, description="shorter side before the crop")
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: Literal["bilinear", "bicubic"] = "bilinear"
    layout: Literal["NCHW"] = "NCHW"


class LabelList(Contract):
    labels: list[str] = Field(min_length=1)


class LocalizedText(Contract):
    name: str
    description: str = ""


class CatalogEntry(Contract):
    label: str
    en: LocalizedText
    ko: LocalizedText | None = None

    def text(self, language: Language) -> LocalizedText:
        """Korean when asked and known, otherwise English."""
        if language == "ko" and self.ko is not None:
            return self.ko
        return self.en


def fallback_entry(label: str) -> CatalogEntry:
    """The entry of a label nobody wrote text for: its own name, made readable."""
    return CatalogEntry(label=label, en=LocalizedText(name=label.replace("_", " ")))


class Catalog(Contract):
    entries: list[CatalogEntry] = Field(default_factory=list)
    # Looked up several times per classification, over up to 1000 labels: index once.
    _by_label: dict[str, CatalogEntry] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _context: Any, /) -> None:
        for entry in self.entries:
            self._by_label.setdefault(entry.label, entry)

    def get(self, label: str) -> CatalogEntry | None:
        """The first entry for `label`, or None."""
        return self._by_label.get(label)

    def lookup(self, label: str) -> CatalogEntry:
        """The entry for `label`; an unknown label falls back to the label itself."""
        return self.get(label) or fallback_entry(label)


class ClassMetrics(Contract):
    precision: float
    recall: float
    f1: float
    support: int


class Evaluation(Contract):
    accuracy: float = Field(ge=0, le=1)
    per_class: dict[str, ClassMetrics] = Field(default_factory=dict)
    confusion_matrix: list[list[int]] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    samples: int = 0
    method: str | None = Field(
        None, description="how the images were held out, e.g. '5-fold cross-validation'"
    )
    accuracy_ci95: tuple[float, float] | None = Field(
        None, description="95 % Wilson interval of the accuracy over `samples` images"
    )
    near_duplicate_groups: int | None = Field(
        None,
        description=(
            "grouped cross-validation: how many groups of near-duplicate photos (two or "
            "more) the folds kept together"
        ),
    )


class ModelMetadata(Contract):
    name: str
    version: str
    framework: Literal["onnx"] = "onnx"
    input_name: str = "input"
    output_name: str = "probabilities"
    num_classes: int = Field(ge=1)
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    source: str = Field(description="where the weights came from (package, training run)")
    created_at: datetime
    dataset_digest: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    code_version: str | None = None


class ExamplePhoto(Contract):
    """A photo of the artifact's smoke set, offered to people as an example to try."""

    label: str
    image: str = Field(description="a small JPEG as a data: URI")


class MisclassifiedPhoto(Contract):
    """A held-out photo the model got wrong, with the thumbnail kept in the artifact."""

    label: str
    predicted: str
    confidence: float = Field(ge=0, le=1, description="probability of `predicted`")
    image: str = Field(description="the thumbnail as a data: URI")


class ModelDescription(Contract):
    """What the served model is, as the endpoint itself answers a `DescribeRequest`
    (`shared.contracts.prediction`) through `invoke_endpoint`: the same on AWS as here.

    The label list and catalog ride along so clients (WAS) can validate feedback and
    show display names without reading the artifact themselves; no path on the model
    server's disk is in it (the caller could not use one)."""

    metadata: ModelMetadata
    evaluation: Evaluation | None = None
    labels: list[str] = Field(default_factory=list)
    catalog: Catalog | None = None
    # Pictures for people (the model page, the classify page's examples); empty for an
    # artifact without a smoke set or misclassified thumbnails (the ImageNet default).
    examples: list[ExamplePhoto] = Field(default_factory=list)
    misclassified: list[MisclassifiedPhoto] = Field(default_factory=list)


class LoadedModel(ModelDescription):
    """What a model server has loaded (`GET /admin/model`, and the answer to a swap):
    the description plus the artifact folder, which only the local deploy uses."""

    model_dir: str = Field(description="the artifact folder the server loaded")


class SwapModelRequest(Contract):
    """`POST /admin/model`: load the artifact at `model_dir`, warm it, then swap it in."""

    model_dir: str = Field(min_length=1, description="absolute path of an artifact folder")
