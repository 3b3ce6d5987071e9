"""Dynamic batching: concurrent requests share one ONNX Runtime call.

Requests announce themselves (`Batcher.slot()`) before they decode, and submit their
preprocessed tensor after. One consumer task forms batches:

- when a worker is free and nobody else is queued or decoding, a request decodes and
  runs in one hop on the lone-request thread (`run_alone`: no batching delay and one
  thread hand-off fewer for a lone caller). Always the same thread: alternating lone
  runs between the pool's threads cost about 2.5 ms each on the 2-thread session
  (bench/bench_model.py, concurrency 1: +4.7 ms over the in-process batch-1 latency
  with alternating threads, +2.4 ms with one);
- otherwise the batch waits for the announced requests, at most `max_wait` after its
  first item, and never grows past `max_batch_size`;
- while a batch runs (in the inference executor; ONNX Runtime releases the GIL), the
  next one fills up. With `workers` > 1 that many batches run at once, which on a
  small CPU beats one multi-threaded run (convolutions at these sizes parallelise
  poorly inside one call).

Each item carries the `ServedModel` it was preprocessed for, and a batch only holds
items of one model, so a hot swap never mixes models or input sizes in one call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.model.onnx_session import ServedModel
from shared.errors import ServiceUnavailable
from shared.logging import get_logger
from shared.metrics.catalog import (
    MODEL_BATCH_SIZE,
    MODEL_INFERENCE,
    MODEL_QUEUE_DEPTH,
    MODEL_QUEUE_WAIT,
)
from shared.metrics.recorder import Metrics

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
    """Forms batches from queued requests and runs up to `workers` of them at once."""

    def __init__(
        self,
        max_batch_size: int,
        max_wait_ms: float,
        workers: int = 1,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.max_batch_size = max_batch_size
        self.metrics = metrics
        self.max_wait = max_wait_ms / 1000.0
        self.workers = workers
        self._queue: deque[_Item] = deque()
        self._decoding = 0
        self._running = 0
        self._changed = asyncio.Event()
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="kkot-infer")
        if metrics is not None:
            metrics.watch(MODEL_QUEUE_DEPTH, lambda: self.depth)
        self._lone_executor = ThreadPoolExecutor(1, thread_name_prefix="kkot-lone")
        self._lone_busy = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the consumer tasks (call inside the running loop)."""
        self._tasks = [
            asyncio.create_task(self._run(), name=f"kkot-batcher-{n}") for n in range(self.workers)
        ]

    async def close(self) -> None:
        """Stop taking batches, fail what is still queued, release the threads."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(ServiceUnavailable("the model server is stopping"))
        self._executor.shutdown(wait=True)
        self._lone_executor.shutdown(wait=True)

    @property
    def depth(self) -> int:
        """Requests announced or queued and not yet in a running batch."""
        return self._decoding + len(self._queue)

    def idle(self) -> bool:
        """True when a lone request may take the `run_alone` fast path."""
        return (
            not self._queue
            and self._decoding == 0
            and self._running < self.workers
            and not self._lone_busy
        )

    async def run_alone(
        self, model: ServedModel, prepare: Callable[[], tuple[npt.NDArray[np.float32], float]]
    ) -> tuple[BatchResult, float]:
        """Decode (`prepare`) and infer one image in a single inference-thread hop.

        Returns the result and the decode milliseconds. Requests arriving meanwhile
        queue as usual and form the next batch.
        """
        self._running += 1
        self._lone_busy = True
        loop = asyncio.get_running_loop()
        try:
            probabilities, decode_ms, inference_s = await loop.run_in_executor(
                self._lone_executor, _prepare_and_infer, model, prepare
            )
        finally:
            self._running -= 1
            self._lone_busy = False
            self._changed.set()
        result = BatchResult(probabilities[0], model, 0.0, inference_s * 1000, 1)
        self._observe(model, inference_s, [0.0])
        return result, decode_ms

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
            if not self._queue or self._running >= self.workers:
                self._changed.clear()
                await self._changed.wait()
                continue
            await self._gather()
            if not self._queue or self._running >= self.workers:
                continue  # another worker (or a lone request) got there first
            batch = self._take()
            self._running += 1
            try:
                await self._execute(batch)
            except asyncio.CancelledError:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(ServiceUnavailable("the model server stopped"))
                raise
            finally:
                self._running -= 1
                self._changed.set()

    async def _gather(self) -> None:
        """Wait (bounded) for requests that are decoding right now to join the batch."""
        deadline = self._queue[0].enqueued + self.max_wait
        while self._queue and self._decoding > 0 and len(self._queue) < self.max_batch_size:
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
        self._observe(model, inference_s, [started - item.enqueued for item in batch])
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

    def _observe(self, model: ServedModel, inference_s: float, waits_s: list[float]) -> None:
        """One ONNX Runtime call of len(waits_s) images, each having waited waits_s[i]."""
        if self.metrics is None:
            return
        labels = {"model_version": model.metadata.version}
        self.metrics.observe(MODEL_BATCH_SIZE, labels, len(waits_s))
        self.metrics.observe(MODEL_INFERENCE, labels, inference_s)
        for wait in waits_s:
            self.metrics.observe(MODEL_QUEUE_WAIT, labels, wait)


def _prepare_and_infer(
    model: ServedModel, prepare: Callable[[], tuple[npt.NDArray[np.float32], float]]
) -> tuple[npt.NDArray[np.float32], float, float]:
    tensor, decode_ms = prepare()
    started = time.perf_counter()
    probabilities = model.infer_lone(tensor[np.newaxis])
    return probabilities, decode_ms, time.perf_counter() - started


def _infer(
    model: ServedModel, tensors: list[npt.NDArray[np.float32]]
) -> tuple[npt.NDArray[np.float32], float]:
    started = time.perf_counter()
    batch = tensors[0][np.newaxis] if len(tensors) == 1 else np.stack(tensors)
    return model.infer(batch), time.perf_counter() - started
