"""Fixtures of the pipeline tests: one small trained registry, a live model server."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from services.model.train.hyperparameters import Hyperparameters
from services.pipeline.run import RunOptions, run_pipeline
from services.pipeline.settings import PipelineSettings
from tests.conftest import start_model_server
from tests.train.helpers import copy_subset

# Fast settings for tests: no flipped copies, fewer iterations.
TEST_HP = Hyperparameters(epochs=60, flip_augment=False, tta=False, seed=5)


@pytest.fixture(scope="session")
def trained(flowers_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`pipeline run --data D --eval-data E --no-deploy` once: registry root, summary, E."""
    base = tmp_path_factory.mktemp("pipeline")
    data = copy_subset(flowers_dir, base / "data", 12)
    evaluation = copy_subset(flowers_dir, base / "eval", 4, skip=12)
    settings = PipelineSettings(
        registry_dir=base / "registry", endpoint_url="http://127.0.0.1:9", min_accuracy=0.5
    )
    options = RunOptions(
        data=data, eval_data=evaluation, min_accuracy=0.5, deploy=False, hyperparameters=TEST_HP
    )
    code, summary = asyncio.run(run_pipeline(options, settings))
    assert code == 0, summary
    return {"root": base / "registry", "summary": summary, "eval": evaluation, "data": data}


@pytest.fixture
def registry_root(trained: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the trained registry (tests change its deployment state)."""
    target = tmp_path / "registry"
    shutil.copytree(trained["root"], target)
    # Paths inside deployment.json are absolute; the copy starts with nothing deployed.
    (target / "deployment.json").unlink(missing_ok=True)
    return target


@pytest.fixture
async def model_server(aiohttp_server: Any, default_model_dir: Path) -> str:
    """A real model server serving the default ImageNet model; its base URL."""
    return await start_model_server(aiohttp_server, default_model_dir, log_format="json")


ServedVersion = Callable[[str], Awaitable[str]]


async def served_version(url: str) -> str:
    """The version the model server at `url` reports (GET /admin/model)."""
    async with ClientSession() as session, session.get(f"{url}/admin/model") as response:
        assert response.status == 200
        body = await response.json()
    return str(body["metadata"]["version"])
