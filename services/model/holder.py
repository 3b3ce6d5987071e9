"""The current model and how it is replaced.

`ModelHolder.current` is a plain reference: requests read it once and keep the
`ServedModel` they got, so a swap never changes the model under a request that is
already decoding or queued (see `batching`). Swaps are serialised by a lock and only
publish a model that loaded and warmed up.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from pathlib import Path

from services.model.onnx_session import ServedModel, load_model
from shared.errors import ServiceUnavailable
from shared.logging import get_logger
from shared.metrics.catalog import MODEL_INFO
from shared.metrics.recorder import Metrics

__all__ = ["ModelHolder"]

_log = get_logger("kkot.model.holder")


class ModelHolder:
    """Owns the served model; `None` until the first load has warmed up."""

    def __init__(self, intra_op_threads: int, *, metrics: Metrics | None = None) -> None:
        self._intra_op_threads = intra_op_threads
        self._metrics = metrics
        self._current: ServedModel | None = None
        self._lock = asyncio.Lock()
        self.load_error: str | None = None

    @property
    def ready(self) -> bool:
        return self._current is not None

    def require(self) -> ServedModel:
        """The model to serve this request with, or 503 while none is ready."""
        model = self._current
        if model is None:
            why = f": {self.load_error}" if self.load_error else " yet"
            raise ServiceUnavailable(f"the model is not loaded{why}", code="model_not_ready")
        return model

    async def load(self, model_dir: Path, executor: Executor | None = None) -> ServedModel:
        """Load, validate and warm `model_dir` off the event loop, then make it current.

        On failure the previous model (if any) keeps serving and the error propagates.
        """
        async with self._lock:
            loop = asyncio.get_running_loop()
            model = await loop.run_in_executor(
                executor, lambda: load_model(model_dir, intra_op_threads=self._intra_op_threads)
            )
            previous, self._current = self._current, model
            self.load_error = None
            if self._metrics is not None:
                self._metrics.set_info(
                    MODEL_INFO,
                    {"model": model.metadata.name, "model_version": model.metadata.version},
                )
            _log.info(
                "model_loaded",
                name=model.metadata.name,
                version=model.metadata.version,
                model_dir=str(model.model_dir),
                replaced=previous.metadata.version if previous else None,
            )
            return model
