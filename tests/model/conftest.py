"""Fixtures for the model server tests: real apps on real sockets, warmed models."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.model.app import create_app
from services.model.settings import ModelServerSettings

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


async def wait_ready(client: TestClient[Any, Any]) -> None:
    """Poll /ping until 200 (bounded: 30 s)."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        response = await client.get("/ping")
        if response.status == 200:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("model server did not become ready")


@pytest.fixture
def model_settings(default_model_dir: Path) -> ModelServerSettings:
    return ModelServerSettings(model_dir=default_model_dir, port=0, log_format="json")


@pytest.fixture
def make_client(aiohttp_client: ClientFactory, default_model_dir: Path) -> MakeClient:
    """Start a real model server (127.0.0.1, free port) with overrides; wait for /ping."""

    async def make(*, ready: bool = True, **overrides: Any) -> TestClient[Any, Any]:
        values: dict[str, Any] = {"model_dir": default_model_dir, "log_format": "json"}
        values.update(overrides)
        client = await aiohttp_client(create_app(ModelServerSettings(**values)))
        if ready:
            await wait_ready(client)
        return client

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client()


@pytest.fixture
def model_copy(default_model_dir: Path, tmp_path: Path) -> Callable[[str], Path]:
    """Copy the default artifact with another version in metadata.json."""

    def copy(version: str) -> Path:
        target = tmp_path / f"model-{version}"
        shutil.copytree(default_model_dir, target)
        metadata = json.loads((target / "metadata.json").read_text())
        metadata["version"] = version
        (target / "metadata.json").write_text(json.dumps(metadata))
        return target

    return copy


def flower_photos(flowers_dir: Path, label: str, count: int) -> list[Path]:
    photos = sorted((flowers_dir / label).glob("*.jpg"))[:count]
    if len(photos) < count:
        pytest.skip(f"fewer than {count} {label} photos in {flowers_dir}")
    return photos
