"""WAS learns labels and display names from the model server's answers alone, so it works
when the artifact folder is on another machine (compose, AWS): here the folder is gone
from disk once the server has loaded it."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, FormData
from aiohttp.test_utils import TestClient

from services.model.app import create_app as create_model_app
from services.model.settings import ModelServerSettings
from shared.contracts.classification import ClassificationRecord, LabelsResponse
from tests.conftest import make_image_bytes
from tests.was.conftest import WasClientFactory

Client = TestClient[Any, Any]
MARKED_NAME = "Tench (from the copied artifact)"


def _marked_copy(default_model_dir: Path, target: Path) -> Path:
    """The default artifact with a display name no other catalog has."""
    shutil.copytree(default_model_dir, target)
    catalog = json.loads((target / "catalog.json").read_text())
    for entry in catalog["entries"]:
        if entry["label"] == "tench":
            entry["en"]["name"] = MARKED_NAME
    (target / "catalog.json").write_text(json.dumps(catalog))
    return target


async def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    async with ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(f"{url}/ping") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError("model server did not become ready")


async def test_feedback_and_display_names_work_when_the_artifact_is_not_on_this_disk(
    aiohttp_server: Any, make_was: WasClientFactory, default_model_dir: Path, tmp_path: Path
) -> None:
    artifact = _marked_copy(default_model_dir, tmp_path / "elsewhere")
    settings = ModelServerSettings(
        model_dir=artifact, port=0, log_format="json", admin_enabled=False
    )
    server = await aiohttp_server(create_model_app(settings))
    url = str(server.make_url("")).rstrip("/")
    await _wait_ready(url)
    shutil.rmtree(artifact)  # the server keeps what it loaded in memory

    was: Client = await make_was(endpoint_url=url)
    labels = LabelsResponse.model_validate(await (await was.get("/api/v1/labels")).json())
    assert len(labels.labels) == 1000
    by_label = {info.label: info for info in labels.labels}
    assert by_label["tench"].display_name == MARKED_NAME

    form = FormData()
    form.add_field("file", make_image_bytes(), filename="g.jpg", content_type="image/jpeg")
    created = await was.post("/api/v1/classifications", data=form)
    assert created.status == 201, await created.text()
    record = ClassificationRecord.model_validate(await created.json())
    corrected = await was.post(
        f"/api/v1/classifications/{record.id}/feedback", json={"label": "tench"}
    )
    assert corrected.status == 200, await corrected.text()
    assert ClassificationRecord.model_validate(await corrected.json()).feedback_label == "tench"
    unknown = await was.post(
        f"/api/v1/classifications/{record.id}/feedback", json={"label": "unicorn"}
    )
    assert unknown.status == 422
    assert (await unknown.json())["error"]["code"] == "unknown_label"
