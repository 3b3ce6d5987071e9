"""A loaded model: ONNX Runtime sessions plus the artifact's labels and metadata.

`load_model(model_dir)` reads and validates the five-file artifact, opens the sessions
and warms them; anything wrong raises `ArtifactError` (422) so a bad artifact is
refused before it can serve.

Two sessions share the graph. Batches use a single-threaded one: several batches run
side by side (one per inference worker), which keeps small CPUs busier than one wide
call. A request that arrives alone may instead use a session with every core
(`intra_op_threads`): it is faster on an idle machine and slower on a busy one, so
`LoneRunChooser` keeps the recent times of both and mostly takes the faster.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from services.model.pictures import load_pictures
from services.model.settings import usable_cpus
from shared.contracts.model import (
    CATALOG_FILE,
    EVALUATION_FILE,
    LABELS_FILE,
    METADATA_FILE,
    MODEL_FILE,
    Catalog,
    Evaluation,
    ExamplePhoto,
    LabelList,
    LoadedModel,
    MisclassifiedPhoto,
    ModelDescription,
    ModelMetadata,
    Preprocessing,
)
from shared.errors import Unprocessable
from shared.logging import get_logger

__all__ = ["ArtifactError", "ServedModel", "load_model", "session_options"]

_log = get_logger("kkot.model.onnx_session")
_C = TypeVar("_C", ModelMetadata, LabelList, Catalog, Evaluation)


class ArtifactError(Unprocessable):
    """The folder is not a usable model artifact."""

    code = "invalid_artifact"


class LoneRunChooser:
    """Recent lone-request inference times, narrow vs wide session; picks the faster.

    Each session's estimate is the fastest of its last `window` runs: a run slowed by a
    passing burst of other work (a batch on the other core, another process) must not
    flip the choice for the next dozens of requests, while a lasting change of load
    fills the whole window and does. Every `explore_every`-th call tries the other
    session so its estimate stays current. Races between threads only blur a window.
    """

    def __init__(self, explore_every: int = 8, window: int = 8) -> None:
        self._explore_every = explore_every
        self._recent: tuple[deque[float], deque[float]] = (
            deque(maxlen=window),
            deque(maxlen=window),
        )  # (narrow, wide)
        self._calls = 0

    def pick(self) -> bool:
        """True for the wide session."""
        self._calls += 1
        narrow, wide = self._estimates()
        if narrow is None:
            return False
        if wide is None:
            return True
        faster_is_wide = wide < narrow
        if self._calls % self._explore_every == 0:
            return not faster_is_wide
        return faster_is_wide

    def record(self, wide: bool, seconds: float) -> None:
        self._recent[wide].append(seconds)

    def _estimates(self) -> tuple[float | None, float | None]:
        narrow, wide = self._recent
        return (min(narrow) if narrow else None, min(wide) if wide else None)

    def estimates_ms(self) -> tuple[float | None, float | None]:
        """(narrow, wide) estimates in milliseconds, None until measured."""
        narrow, wide = self._estimates()
        return (
            None if narrow is None else narrow * 1000,
            None if wide is None else wide * 1000,
        )


@dataclass(eq=False)
class ServedModel:
    """One loaded, warmed model. Immutable once built; a swap replaces the whole object."""

    metadata: ModelMetadata
    labels: tuple[str, ...]
    catalog: Catalog
    evaluation: Evaluation | None
    model_dir: Path
    session: Any = field(repr=False)
    examples: list[ExamplePhoto] = field(default_factory=list, repr=False)
    misclassified: list[MisclassifiedPhoto] = field(default_factory=list, repr=False)
    wide_session: Any = field(default=None, repr=False)
    lone: LoneRunChooser = field(default_factory=lambda: LoneRunChooser())

    @property
    def preprocessing(self) -> Preprocessing:
        return self.metadata.preprocessing

    def infer(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Class probabilities [N, classes] for a preprocessed [N, 3, S, S] batch."""
        return self._run(self.session, batch)

    def infer_lone(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Like `infer`, for a request with nobody else waiting: the faster session."""
        if self.wide_session is None:
            return self._run(self.session, batch)
        wide = self.lone.pick()
        started = time.perf_counter()
        result = self._run(self.wide_session if wide else self.session, batch)
        self.lone.record(wide, time.perf_counter() - started)
        return result

    def _run(self, session: Any, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        outputs = session.run([self.metadata.output_name], {self.metadata.input_name: batch})
        result: npt.NDArray[np.float32] = outputs[0]
        return result

    def loaded_description(self) -> LoadedModel:
        """What `GET /admin/model` (the local deploy) answers: the description plus the
        artifact folder."""
        return self._loaded

    def description(self) -> ModelDescription:
        """What a `DescribeRequest` through the endpoint answers (labels and catalog
        included; clients such as WAS may not see the artifact folder: another machine)."""
        return self._description

    @cached_property
    def _description(self) -> ModelDescription:
        # Built once from what `load_model` read: the model is immutable once built.
        return ModelDescription(
            metadata=self.metadata,
            evaluation=self.evaluation,
            labels=list(self.labels),
            catalog=self.catalog,
            examples=self.examples,
            misclassified=self.misclassified,
        )

    @cached_property
    def _loaded(self) -> LoadedModel:
        return LoadedModel(**dict(self._description), model_dir=str(self.model_dir))


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
            sess_options=session_options(1),
            providers=["CPUExecutionProvider"],
        )
        wide_session = (
            None
            if intra_op_threads == 1 or usable_cpus() == 1
            else ort.InferenceSession(
                str(model_dir / MODEL_FILE),
                sess_options=session_options(intra_op_threads),
                providers=["CPUExecutionProvider"],
            )
        )
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... classes
        raise ArtifactError(f"{MODEL_FILE} is not a loadable ONNX model: {exc}") from exc
    examples, misclassified = load_pictures(model_dir)
    model = ServedModel(
        metadata=metadata,
        labels=tuple(labels),
        catalog=catalog,
        evaluation=evaluation,
        model_dir=model_dir.resolve(),
        session=session,
        wide_session=wide_session,
        examples=examples,
        misclassified=misclassified,
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
    """Run dummy batches: first-run allocations happen now, not on a user's request, and
    the lone-request chooser starts with a measurement of both sessions."""
    size = model.preprocessing.image_size
    started = time.perf_counter()
    try:
        probabilities = model.infer(np.zeros((2, 3, size, size), dtype=np.float32))
        one = np.zeros((1, 3, size, size), dtype=np.float32)
        for _ in range(3):
            model.lone.record(False, _timed(model.infer, one))
            if model.wide_session is not None:
                model.lone.record(True, _timed(lambda b: model._run(model.wide_session, b), one))
    except Exception as exc:
        raise ArtifactError(f"{MODEL_FILE} failed on a warm-up batch: {exc}") from exc
    if probabilities.shape != (2, model.metadata.num_classes):
        raise ArtifactError(
            f"{MODEL_FILE} returned shape {list(probabilities.shape)}, "
            f"expected [N, {model.metadata.num_classes}]"
        )
    if not np.isfinite(probabilities).all():
        raise ArtifactError(f"{MODEL_FILE} returned non-finite values on a warm-up batch")
    narrow_ms, wide_ms = model.lone.estimates_ms()
    _log.info(
        "model_warmed",
        name=model.metadata.name,
        version=model.metadata.version,
        warmup_ms=round((time.perf_counter() - started) * 1000, 1),
        single_image_ms_narrow=None if narrow_ms is None else round(narrow_ms, 2),
        single_image_ms_wide=None if wide_ms is None else round(wide_ms, 2),
    )


def _timed(
    run: Callable[[npt.NDArray[np.float32]], object], batch: npt.NDArray[np.float32]
) -> float:
    started = time.perf_counter()
    run(batch)
    return time.perf_counter() - started
