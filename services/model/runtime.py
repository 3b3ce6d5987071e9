"""A loaded model: the ONNX Runtime session plus the artifact's labels and metadata.

`load_model(model_dir)` reads and validates the five-file artifact, opens the session
and warms it with one dummy batch; anything wrong raises `ArtifactError` (422) so a
bad artifact is refused before it can serve.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from shared.contracts.model import (
    CATALOG_FILE,
    EVALUATION_FILE,
    LABELS_FILE,
    METADATA_FILE,
    MODEL_FILE,
    Catalog,
    Evaluation,
    LabelList,
    LoadedModel,
    ModelMetadata,
    Preprocessing,
)
from shared.errors import Unprocessable
from shared.logging import get_logger

__all__ = ["ArtifactError", "ServedModel", "load_model", "session_options"]

_log = get_logger("kkot.model.runtime")
_C = TypeVar("_C", ModelMetadata, LabelList, Catalog, Evaluation)


class ArtifactError(Unprocessable):
    """The folder is not a usable model artifact."""

    code = "invalid_artifact"


@dataclass(eq=False)
class ServedModel:
    """One loaded, warmed model. Immutable once built; a swap replaces the whole object."""

    metadata: ModelMetadata
    labels: tuple[str, ...]
    catalog: Catalog
    evaluation: Evaluation | None
    model_dir: Path
    session: Any = field(repr=False)

    @property
    def preprocessing(self) -> Preprocessing:
        return self.metadata.preprocessing

    def infer(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Class probabilities [N, classes] for a preprocessed [N, 3, S, S] batch."""
        outputs = self.session.run([self.metadata.output_name], {self.metadata.input_name: batch})
        result: npt.NDArray[np.float32] = outputs[0]
        return result

    def describe(self) -> LoadedModel:
        """The public description served by `GET /admin/model`."""
        return LoadedModel(
            metadata=self.metadata, evaluation=self.evaluation, model_dir=str(self.model_dir)
        )


def session_options(intra_op_threads: int) -> Any:
    """ONNX Runtime options tuned for a small CPU box shared with decoding threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    # Spinning workers would burn the cores the decode threads need between batches.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def load_model(model_dir: Path, *, intra_op_threads: int = 0) -> ServedModel:
    """Load, validate and warm the artifact in `model_dir` (blocking; run in a thread)."""
    try:
        return _load(Path(model_dir), intra_op_threads)
    except (OSError, ValueError) as exc:  # unreadable files, a NUL in the path, ...
        raise ArtifactError(f"cannot read the artifact in {model_dir}: {exc}") from exc


def _load(model_dir: Path, intra_op_threads: int) -> ServedModel:
    import onnxruntime as ort

    if not model_dir.exists():
        raise ArtifactError(f"model directory {model_dir} does not exist")
    if not model_dir.is_dir():
        raise ArtifactError(f"{model_dir} is not a directory")
    metadata = _read(model_dir / METADATA_FILE, ModelMetadata)
    labels = _read(model_dir / LABELS_FILE, LabelList).labels
    catalog = (
        _read(model_dir / CATALOG_FILE, Catalog)
        if (model_dir / CATALOG_FILE).exists()
        else Catalog()
    )
    evaluation = (
        _read(model_dir / EVALUATION_FILE, Evaluation)
        if (model_dir / EVALUATION_FILE).exists()
        else None
    )
    if len(labels) != metadata.num_classes:
        raise ArtifactError(
            f"{LABELS_FILE} has {len(labels)} labels but metadata says {metadata.num_classes}"
        )
    if not (model_dir / MODEL_FILE).is_file():
        raise ArtifactError(f"{MODEL_FILE} is missing from {model_dir}")
    try:
        session = ort.InferenceSession(
            str(model_dir / MODEL_FILE),
            sess_options=session_options(intra_op_threads),
            providers=["CPUExecutionProvider"],
        )
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... classes
        raise ArtifactError(f"{MODEL_FILE} is not a loadable ONNX model: {exc}") from exc
    model = ServedModel(
        metadata=metadata,
        labels=tuple(labels),
        catalog=catalog,
        evaluation=evaluation,
        model_dir=model_dir.resolve(),
        session=session,
    )
    _check_io(model)
    _warm_up(model)
    return model


def _read(path: Path, kind: type[_C]) -> _C:
    if not path.is_file():
        raise ArtifactError(f"{path.name} is missing from {path.parent}")
    try:
        return kind.model_validate_json(path.read_bytes())
    except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path.name} is not a valid {kind.__name__}: {exc}") from exc


def _check_io(model: ServedModel) -> None:
    inputs = {i.name: i for i in model.session.get_inputs()}
    outputs = {o.name: o for o in model.session.get_outputs()}
    meta = model.metadata
    if meta.input_name not in inputs or meta.output_name not in outputs:
        raise ArtifactError(
            f"{MODEL_FILE} must have input {meta.input_name!r} and output {meta.output_name!r}; "
            f"it has inputs {sorted(inputs)} and outputs {sorted(outputs)}"
        )
    shape = inputs[meta.input_name].shape
    size = meta.preprocessing.image_size
    if len(shape) != 4 or list(shape[1:]) != [3, size, size]:
        raise ArtifactError(
            f"input {meta.input_name!r} has shape {shape}, expected [N, 3, {size}, {size}]"
        )


def _warm_up(model: ServedModel) -> None:
    """Run one dummy batch: first-run allocations happen now, not on a user's request."""
    size = model.preprocessing.image_size
    started = time.perf_counter()
    try:
        probabilities = model.infer(np.zeros((2, 3, size, size), dtype=np.float32))
    except Exception as exc:
        raise ArtifactError(f"{MODEL_FILE} failed on a warm-up batch: {exc}") from exc
    if probabilities.shape != (2, model.metadata.num_classes):
        raise ArtifactError(
            f"{MODEL_FILE} returned shape {list(probabilities.shape)}, "
            f"expected [N, {model.metadata.num_classes}]"
        )
    if not np.isfinite(probabilities).all():
        raise ArtifactError(f"{MODEL_FILE} returned non-finite values on a warm-up batch")
    _log.info(
        "model_warmed",
        name=model.metadata.name,
        version=model.metadata.version,
        warmup_ms=round((time.perf_counter() - started) * 1000, 1),
    )
