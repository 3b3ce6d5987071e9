"""Dynamic batching: concurrent requests share ONNX Runtime calls; a lone one does not wait."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp.test_utils import TestClient

from services.model.batching import Batcher
from services.model.onnx_session import load_model
from shared.contracts.prediction import Prediction
from tests.model.conftest import MakeClient, flower_photos
from tests.model.images import make_image_bytes

Client = TestClient[Any, Any]


async def classify(client: Client, data: bytes) -> Prediction:
    response = await client.post("/invocations", data=data, headers={"Content-Type": "image/jpeg"})
    assert response.status == 200, await response.text()
    return Prediction.model_validate(await response.json())


async def test_concurrent_requests_are_batched(client: Client) -> None:
    images = [make_image_bytes("JPEG", (320, 240), color=c) for c in range(0, 240, 10)]
    predictions = await asyncio.gather(*(classify(client, data) for data in images))
    sizes = [p.timing.batch_size for p in predictions]
    assert max(sizes) > 1, sizes
    assert all(1 <= size <= 32 for size in sizes)


async def test_batched_answers_equal_single_answers(client: Client, flowers_dir: Path) -> None:
    photos = [p.read_bytes() for p in flower_photos(flowers_dir, "astilbe", 12)]
    alone = [await classify(client, data) for data in photos]
    together = await asyncio.gather(*(classify(client, data) for data in photos))
    assert max(p.timing.batch_size for p in together) > 1
    for single, batched in zip(alone, together, strict=True):
        assert single.top_k[0].index == batched.top_k[0].index
        assert abs(single.top_k[0].score - batched.top_k[0].score) < 1e-4


async def test_batch_size_never_exceeds_the_setting(make_client: MakeClient) -> None:
    client = await make_client(max_batch_size=4)
    images = [make_image_bytes("JPEG", (160, 120), color=c) for c in range(0, 200, 10)]
    predictions = await asyncio.gather(*(classify(client, data) for data in images))
    sizes = [p.timing.batch_size for p in predictions]
    assert max(sizes) <= 4
    assert max(sizes) > 1


async def test_a_lone_request_runs_without_waiting_for_company(make_client: MakeClient) -> None:
    client = await make_client(max_batch_wait_ms=500)
    prediction = await classify(client, make_image_bytes("JPEG"))
    assert prediction.timing.batch_size == 1
    assert prediction.timing.queue_ms < 100  # would be ~500 if it waited for the deadline


async def test_lone_requests_always_run_on_the_same_thread(default_model_dir: Path) -> None:
    # Alternating lone runs between the pool's threads cost ~2.5 ms each on the
    # 2-thread session (bench_model, concurrency 1); they must stay on one thread, even
    # after batches have started every pool thread.
    model = load_model(default_model_dir)
    batcher = Batcher(max_batch_size=1, max_wait_ms=1, workers=2)
    batcher.start()
    tensor = np.zeros((3, 224, 224), dtype=np.float32)
    threads: list[str] = []

    def prepare() -> tuple[np.ndarray, float]:
        threads.append(threading.current_thread().name)
        return tensor, 0.0

    try:
        await asyncio.gather(*(batcher.enqueue(model, tensor) for _ in range(8)))
        for _ in range(12):
            assert batcher.idle()
            await batcher.run_alone(model, prepare)
    finally:
        await batcher.close()
    assert len(set(threads)) == 1 and threads[0].startswith("kkot-lone"), threads
