"""The work behind `/invocations`: decode, batch, and turn probabilities into answers.

Decoding, base64 and JSON parsing run in the decode thread pool, inference in the
batcher; the event loop only moves bytes and futures.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import time
from concurrent.futures import Executor
from typing import Any

import numpy as np
import numpy.typing as npt

from services.model.batching import Batcher, BatchResult
from services.model.imaging import decode_image, preprocess, preprocess_array
from services.model.negotiation import InvocationOptions
from services.model.onnx_session import ServedModel
from shared.contracts.model import ModelDescription, Preprocessing
from shared.contracts.prediction import (
    DescribeRequest,
    ImageRequest,
    InstancesRequest,
    InstancesResponse,
    LabelScore,
    Prediction,
    PredictionTiming,
)
from shared.errors import InvalidImage, InvalidPayload

__all__ = ["Classifier", "decode_tensor"]


def decode_tensor(
    data: bytes, preprocessing: Preprocessing, max_pixels: int
) -> tuple[npt.NDArray[np.float32], float]:
    """Image bytes -> model input (3, S, S) and the milliseconds it took (thread-safe)."""
    started = time.perf_counter()
    image = decode_image(data, max_pixels=max_pixels, target_short_side=preprocessing.resize_size)
    tensor = preprocess(image, preprocessing)
    return tensor, (time.perf_counter() - started) * 1000


class Classifier:
    """Runs one invocation against a model through the shared batcher."""

    def __init__(
        self, batcher: Batcher, pool: Executor, *, max_pixels: int, default_top_k: int
    ) -> None:
        self._batcher = batcher
        self._pool = pool
        self._max_pixels = max_pixels
        self._default_top_k = default_top_k

    async def image_bytes(
        self, model: ServedModel, data: bytes, options: InvocationOptions, started: float
    ) -> Prediction:
        """Classify one raw image body."""
        if not data:
            raise InvalidImage("the request body is empty; send the image bytes", code="empty_body")
        if self._batcher.idle():
            prepare = functools.partial(decode_tensor, data, model.preprocessing, self._max_pixels)
            result, decode_ms = await self._batcher.run_alone(model, prepare)
            return self._render(result, decode_ms, options, started)
        loop = asyncio.get_running_loop()
        async with self._batcher.slot() as slot:
            tensor, decode_ms = await loop.run_in_executor(
                self._pool, decode_tensor, data, model.preprocessing, self._max_pixels
            )
            result = await slot.submit(model, tensor)
        return self._render(result, decode_ms, options, started)

    async def json_body(
        self, model: ServedModel, body: bytes, options: InvocationOptions, started: float
    ) -> Prediction | InstancesResponse | ModelDescription:
        """Classify an `ImageRequest` (base64) or an `InstancesRequest` (pixel arrays), or
        answer a `DescribeRequest` with the served model's description."""
        if not body:
            raise InvalidPayload("the request body is empty; send a JSON object", code="empty_body")
        loop = asyncio.get_running_loop()
        request = await loop.run_in_executor(self._pool, _parse_json_request, body)
        if isinstance(request, DescribeRequest):
            return model.description()
        if isinstance(request, ImageRequest):
            data = await loop.run_in_executor(self._pool, _b64decode, request.image)
            if request.top_k is not None:
                options = InvocationOptions(request.top_k, options.probabilities)
            return await self.image_bytes(model, data, options, started)
        return await self._instances(model, request, options, started)

    async def _instances(
        self,
        model: ServedModel,
        request: InstancesRequest,
        options: InvocationOptions,
        started: float,
    ) -> InstancesResponse:
        loop = asyncio.get_running_loop()
        decode_started = time.perf_counter()
        tensors = await loop.run_in_executor(
            self._pool, _instances_to_tensors, request, model.preprocessing
        )
        decode_ms = (time.perf_counter() - decode_started) * 1000 / len(tensors)
        results = await asyncio.gather(
            *(self._batcher.enqueue(model, tensor) for tensor in tensors)
        )
        return InstancesResponse(
            predictions=[self._render(r, decode_ms, options, started) for r in results]
        )

    def _render(
        self, result: BatchResult, decode_ms: float, options: InvocationOptions, started: float
    ) -> Prediction:
        model = result.model
        probabilities = np.clip(result.probabilities, 0.0, 1.0)
        k = min(options.top_k or self._default_top_k, probabilities.shape[0])
        top = np.argpartition(-probabilities, k - 1)[:k]
        top = top[np.argsort(-probabilities[top], kind="stable")]
        labels = model.labels
        return Prediction(
            model_name=model.metadata.name,
            model_version=model.metadata.version,
            top_k=[
                LabelScore(index=int(i), label=labels[i], score=float(probabilities[i]))
                for i in top
            ],
            probabilities=probabilities.tolist() if options.probabilities else None,
            timing=PredictionTiming(
                decode_ms=round(decode_ms, 3),
                queue_ms=round(max(result.queue_ms, 0.0), 3),
                inference_ms=round(result.inference_ms, 3),
                total_ms=round((time.perf_counter() - started) * 1000, 3),
                batch_size=result.batch_size,
            ),
        )


def _parse_json_request(body: bytes) -> ImageRequest | InstancesRequest | DescribeRequest:
    try:
        document: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"the body is not valid JSON ({exc})", code="invalid_json") from exc
    except RecursionError as exc:  # "[[[[...": nesting deeper than the parser's stack
        raise InvalidPayload("the JSON body is nested too deeply", code="invalid_json") from exc
    if isinstance(document, dict) and "image" in document:
        return ImageRequest.model_validate(document)
    if isinstance(document, dict) and "instances" in document:
        return InstancesRequest.model_validate(document)
    if isinstance(document, dict) and "describe" in document:
        return DescribeRequest.model_validate(document)
    raise InvalidPayload(
        'the JSON body needs "image" (base64 image bytes), "instances" (H x W x 3 pixels) '
        'or "describe": true (the served model\'s description)'
    )


def _b64decode(text: str) -> bytes:
    cleaned = "".join(text.split())
    if cleaned.startswith("data:") and "," in cleaned:  # a data: URL from a browser
        cleaned = cleaned.split(",", 1)[1]
    cleaned = cleaned.replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidPayload('"image" is not valid base64', code="invalid_base64") from exc


def _instances_to_tensors(
    request: InstancesRequest, preprocessing: Preprocessing
) -> list[npt.NDArray[np.float32]]:
    tensors = []
    for number, instance in enumerate(request.instances):
        try:
            array = np.asarray(instance, dtype=np.float64)
        except ValueError as exc:
            raise InvalidImage(
                f"instance {number} is not a rectangular H x W x 3 array of numbers"
            ) from exc
        try:
            tensors.append(preprocess_array(array, preprocessing))
        except InvalidImage as exc:
            raise InvalidImage(f"instance {number}: {exc.message}") from exc
    return tensors
