"""`/ping` readiness and the admin API: current model, hot swap, refusal of bad artifacts."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from shared.contracts.errors import ErrorResponse
from shared.contracts.model import LoadedModel
from shared.contracts.prediction import Prediction
from tests.model.conftest import MakeClient, wait_ready
from tests.model.images import make_image_bytes

Client = TestClient[Any, Any]
JPEG = make_image_bytes("JPEG")


async def test_ping_is_200_once_the_model_is_warm(make_client: MakeClient) -> None:
    client = await make_client(ready=False)
    await wait_ready(client)
    response = await client.post("/invocations", data=JPEG, headers={"Content-Type": "image/jpeg"})
    assert response.status == 200


async def test_ping_is_503_while_no_model_is_loaded(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client(ready=False, model_dir=tmp_path / "missing")
    deadline = time.monotonic() + 10
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get("/ping")
        assert response.status == 503
        body = await response.json()
        if "does not exist" in body["error"]["message"]:
            break
        await asyncio.sleep(0.02)
    assert "does not exist" in ErrorResponse.model_validate(body).error.message
    assert response.headers["Retry-After"] == "1"
    invoked = await client.post("/invocations", data=JPEG, headers={"Content-Type": "image/jpeg"})
    assert invoked.status == 503
    assert ErrorResponse.model_validate(await invoked.json()).error.code == "model_not_ready"


async def test_admin_model_describes_the_loaded_artifact(
    client: Client, default_model_dir: Path
) -> None:
    expected_dir = str(default_model_dir.resolve())  # noqa: ASYNC240 - once, before serving
    response = await client.get("/admin/model")
    assert response.status == 200
    loaded = LoadedModel.model_validate(await response.json())
    assert loaded.metadata.name == "efficientnet-lite0-imagenet"
    assert loaded.metadata.num_classes == 1000
    assert loaded.model_dir == expected_dir
    assert loaded.evaluation is None
    # Labels and catalog travel in the answer: a client in another container cannot
    # read the artifact folder.
    on_disk = json.loads((default_model_dir / "labels.json").read_text())["labels"]
    assert loaded.labels == on_disk
    assert loaded.catalog is not None
    assert len(loaded.catalog.entries) == 1000
    assert loaded.catalog.lookup("tench").en.description


async def test_admin_is_absent_when_disabled(make_client: MakeClient) -> None:
    client = await make_client(admin_enabled=False)
    assert (await client.get("/admin/model")).status == 404
    assert (await client.post("/admin/model", json={"model_dir": "/tmp"})).status in (404, 405)


async def test_swap_changes_the_served_version_and_reports_evaluation(
    client: Client, model_copy: Callable[[str], Path]
) -> None:
    new_dir = model_copy("swapped-2")
    (new_dir / "evaluation.json").write_text(json.dumps({"accuracy": 0.93, "samples": 100}))
    response = await client.post("/admin/model", json={"model_dir": str(new_dir)})
    assert response.status == 200, await response.text()
    loaded = LoadedModel.model_validate(await response.json())
    assert loaded.metadata.version == "swapped-2"
    assert loaded.evaluation is not None and loaded.evaluation.accuracy == 0.93
    current = LoadedModel.model_validate(await (await client.get("/admin/model")).json())
    assert current.metadata.version == "swapped-2"
    invoked = await client.post("/invocations", data=JPEG, headers={"Content-Type": "image/jpeg"})
    assert Prediction.model_validate(await invoked.json()).model_version == "swapped-2"


async def test_invalid_artifacts_are_refused_and_the_old_model_keeps_serving(
    client: Client, model_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    no_onnx = model_copy("no-onnx")
    (no_onnx / "model.onnx").unlink()
    bad_onnx = model_copy("bad-onnx")
    (bad_onnx / "model.onnx").write_bytes(b"not an onnx graph")
    wrong_labels = model_copy("wrong-labels")
    (wrong_labels / "labels.json").write_text(json.dumps({"labels": ["a", "b"]}))
    bad_metadata = model_copy("bad-metadata")
    (bad_metadata / "metadata.json").write_text("{not json")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        str(no_onnx): "model.onnx is missing",
        str(bad_onnx): "not a loadable ONNX model",
        str(wrong_labels): "2 labels",
        str(bad_metadata): "metadata.json",
        str(empty): "metadata.json is missing",
        str(tmp_path / "nowhere"): "does not exist",
        str(no_onnx / "labels.json"): "is not a directory",
        str(tmp_path) + "/nul\x00byte": "does not exist",
    }
    for model_dir, text in cases.items():
        response = await client.post("/admin/model", json={"model_dir": model_dir})
        assert response.status == 422, (model_dir, await response.text())
        error = ErrorResponse.model_validate(await response.json()).error
        assert error.code == "invalid_artifact" and text in error.message, error.message
    relative = await client.post("/admin/model", json={"model_dir": "var/models/default"})
    assert relative.status == 400
    garbage = await client.post(
        "/admin/model", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert garbage.status == 422
    current = LoadedModel.model_validate(await (await client.get("/admin/model")).json())
    assert current.metadata.version == "imagenet-1"
    invoked = await client.post("/invocations", data=JPEG, headers={"Content-Type": "image/jpeg"})
    assert Prediction.model_validate(await invoked.json()).model_version == "imagenet-1"


async def test_swaps_under_load_fail_no_request(
    client: Client, model_copy: Callable[[str], Path]
) -> None:
    versions = ["load-a", "load-b", "load-c"]
    dirs = [model_copy(v) for v in versions]
    images = [make_image_bytes("JPEG", (200, 150), color=c) for c in range(0, 250, 25)]
    statuses: list[int] = []
    seen: set[str] = set()
    stop = asyncio.Event()

    async def caller(worker: int) -> None:
        count = 0
        while not stop.is_set() and count < 200:
            data = images[(worker + count) % len(images)]
            response = await client.post(
                "/invocations", data=data, headers={"Content-Type": "image/jpeg"}
            )
            statuses.append(response.status)
            if response.status == 200:
                seen.add(Prediction.model_validate(await response.json()).model_version)
            else:
                await response.read()
            count += 1

    workers = [asyncio.create_task(caller(i)) for i in range(8)]
    try:
        for model_dir in dirs:
            await asyncio.sleep(0.2)
            swapped = await client.post("/admin/model", json={"model_dir": str(model_dir)})
            assert swapped.status == 200, await swapped.text()
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*workers), timeout=60)
    assert statuses and all(status == 200 for status in statuses), set(statuses)
    assert len(statuses) >= 16
    assert "load-c" in seen and len(seen) >= 2


async def test_swap_to_a_model_with_another_input_size_keeps_queued_requests_safe(
    client: Client, model_copy: Callable[[str], Path]
) -> None:
    """A copy whose metadata is invalid for its graph is refused before it can serve."""
    odd = model_copy("odd-size")
    metadata = json.loads((odd / "metadata.json").read_text())
    metadata["preprocessing"]["image_size"] = 192
    (odd / "metadata.json").write_text(json.dumps(metadata))
    response = await client.post("/admin/model", json={"model_dir": str(odd)})
    assert response.status == 422
    assert "expected [N, 3, 192, 192]" in (await response.json())["error"]["message"]
    shutil.rmtree(odd)
