"""Dynamic batching: concurrent requests share one ONNX Runtime call.

Requests announce themselves (`Batcher.slot()`) before they decode, and submit their
preprocessed tensor after. One consumer task forms batches:

- when the model is idle and nobody else is decoding, a request runs at once (no added
  latency for a lone caller);
- otherwise the batch waits for the announced requests, at most `max_wait` after its
  first item, and never grows past `max_batch_size`;
- while a batch runs (in a one-thread executor; ONNX Runtime releases the GIL and uses
  its own worker threads), the next one fills up.

Each item carries the `ServedModel` it was preprocessed for, and a batch only holds
items of one model, so a hot swap never mixes models or input sizes in one call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.model.runtime import ServedModel
from shared.errors import ServiceUnavailable
from shared.logging import get_logger

__all__ = ["BatchResult", "Batcher", "Slot"]

_log = get_logger("kkot.model.batching")


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One request's share of a batch run."""

    probabilities: npt.NDArray[np.float32]
    model: ServedModel
    queue_ms: float
    inference_ms: float
    batch_size: int


@dataclass(slots=True)
class _Item:
    model: ServedModel
    tensor: npt.NDArray[np.float32]
    future: asyncio.Future[BatchResult]
    enqueued: float


class Slot:
    """A request's place in line, held while it decodes; `submit` hands in the tensor."""

    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher
        self.open = True

    async def submit(self, model: ServedModel, tensor: npt.NDArray[np.float32]) -> BatchResult:
        """Queue `tensor` (3, S, S) for `model` and wait for its probabilities."""
        self._close()
        return await self._batcher.enqueue(model, tensor)

    def _close(self) -> None:
        if self.open:
            self.open = False
            self._batcher.release()


class Batcher:
    """Forms batches from queued requests and runs them one at a time."""

    def __init__(self, max_batch_size: int, max_wait_ms: float) -> None:
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self._queue: deque[_Item] = deque()
        self._decoding = 0
        self._changed = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="kkot-infer")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the consumer task (call inside the running loop)."""
        self._task = asyncio.create_task(self._run(), name="kkot-batcher")

    async def close(self) -> None:
        """Stop taking batches, fail what is still queued, release the thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(ServiceUnavailable("the model server is stopping"))
        self._executor.shutdown(wait=True)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Announce a request that is about to submit, so a forming batch waits for it."""
        self._decoding += 1
        slot = Slot(self)
        try:
            yield slot
        finally:
            slot._close()

    def release(self) -> None:
        self._decoding -= 1
        self._changed.set()

    async def enqueue(self, model: ServedModel, tensor: npt.NDArray[np.float32]) -> BatchResult:
        future: asyncio.Future[BatchResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(model, tensor, future, time.perf_counter()))
        self._changed.set()
        return await future

    async def _run(self) -> None:
        while True:
            while not self._queue:
                self._changed.clear()
                await self._changed.wait()
            await self._gather()
            batch = self._take()
            try:
                await self._execute(batch)
            except asyncio.CancelledError:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(ServiceUnavailable("the model server stopped"))
                raise

    async def _gather(self) -> None:
        """Wait (bounded) for requests that are decoding right now to join the batch."""
        deadline = self._queue[0].enqueued + self.max_wait
        while self._decoding > 0 and len(self._queue) < self.max_batch_size:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def _take(self) -> list[_Item]:
        model = self._queue[0].model
        batch: list[_Item] = []
        rest: deque[_Item] = deque()
        while self._queue and len(batch) < self.max_batch_size:
            item = self._queue.popleft()
            (batch if item.model is model else rest).append(item)
        # Items of another model (queued across a swap) keep their place for the next batch.
        rest.extend(self._queue)
        self._queue = rest
        return batch

    async def _execute(self, batch: list[_Item]) -> None:
        model = batch[0].model
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            probabilities, inference_s = await loop.run_in_executor(
                self._executor, _infer, model, [item.tensor for item in batch]
            )
        except Exception as exc:
            _log.exception("batch_failed", batch_size=len(batch))
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        for row, item in enumerate(batch):
            if not item.future.done():
                item.future.set_result(
                    BatchResult(
                        probabilities=probabilities[row],
                        model=model,
                        queue_ms=(started - item.enqueued) * 1000,
                        inference_ms=inference_s * 1000,
                        batch_size=len(batch),
                    )
                )


def _infer(
    model: ServedModel, tensors: list[npt.NDArray[np.float32]]
) -> tuple[npt.NDArray[np.float32], float]:
    started = time.perf_counter()
    batch = tensors[0][np.newaxis] if len(tensors) == 1 else np.stack(tensors)
    return model.infer(batch), time.perf_counter() - started
