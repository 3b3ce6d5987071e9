"""The model server's /metrics: batch sizes and queue waits move under concurrent
predictions and agree with what the answers themselves report; the served model's
version is a label that follows a swap."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from shared.contracts.prediction import Prediction
from tests.model.images import make_image_bytes
from tests.prometheus_text import value

Client = TestClient[Any, Any]


async def _metrics(client: Client) -> str:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return await response.text()


async def _classify(client: Client, data: bytes) -> Prediction:
    response = await client.post("/invocations", data=data, headers={"Content-Type": "image/jpeg"})
    assert response.status == 200, await response.text()
    return Prediction.model_validate(await response.json())


async def test_batch_sizes_and_queue_waits_move_under_concurrent_predictions(
    client: Client,
) -> None:
    version = (await _classify(client, make_image_bytes("JPEG"))).model_version
    labels = {"model_version": version}
    before = await _metrics(client)
    images = [make_image_bytes("JPEG", (320, 240), color=c) for c in range(0, 240, 10)]
    burst = asyncio.gather(*(_classify(client, data) for data in images))
    depths = []
    while not burst.done():  # scrapes interleave with the burst on the server's loop
        depths.append(value(await _metrics(client), "kkot_model_queue_depth"))
    predictions = await burst
    after = await _metrics(client)

    def delta(name: str, extra: dict[str, str] | None = None) -> float:
        wanted = {**labels, **(extra or {})}
        return value(after, name, wanted) - value(before, name, wanted)

    # Every image is in exactly one batch; the batches are the ONNX Runtime calls.
    assert delta("kkot_model_batch_size_sum") == len(images)
    calls = delta("kkot_model_batch_size_count")
    assert 1 <= calls < len(images)  # some calls carried several images
    assert delta("kkot_model_inference_seconds_count") == calls
    assert delta("kkot_model_queue_wait_seconds_count") == len(images)
    # Calls of one image, as the answers report them (a batch of n is told to n answers).
    alone = sum(1 for p in predictions if p.timing.batch_size == 1)
    assert delta("kkot_model_batch_size_bucket", {"le": "1.0"}) == alone
    assert max(p.timing.batch_size for p in predictions) > 1
    # The queue depth was seen above zero during the burst, and is back to zero.
    assert max(depths) >= 1, depths
    assert value(after, "kkot_model_queue_depth") == 0
    # Every request counted by its route template and status.
    invocations = {"route": "/invocations", "method": "POST", "status": "200"}
    assert value(after, "kkot_http_requests_total", invocations) == len(images) + 1


async def test_the_model_version_is_a_label_that_follows_a_swap(
    client: Client, model_copy: Callable[[str], Path]
) -> None:
    first = await _metrics(client)
    assert value(first, "kkot_model_info", {"model": "efficientnet-lite0-imagenet"}) == 1
    response = await client.post("/admin/model", json={"model_dir": str(model_copy("swapped-3"))})
    assert response.status == 200, await response.text()
    second = await _metrics(client)
    assert value(second, "kkot_model_info", {"model_version": "swapped-3"}) == 1
    assert second.count("kkot_model_info{") == 1  # the old version is gone
    await _classify(client, make_image_bytes("JPEG"))
    after = await _metrics(client)
    assert value(after, "kkot_model_batch_size_sum", {"model_version": "swapped-3"}) == 1
