"""Fixtures shared by every test package: the default model, the flowers dataset,
free ports, small generated images and a real model server."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from shared.ports import free_port as _free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def default_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ImageNet-pretrained default model artifact (built once if missing)."""
    configured = os.environ.get("KKOT_TEST_MODEL_DIR")
    target = Path(configured) if configured else REPO_ROOT / "var" / "models" / "default"
    if not (target / "model.onnx").exists():
        from services.model.prepare import prepare_default_model

        prepare_default_model(target)
    return target


@pytest.fixture(scope="session")
def flowers_dir() -> Path:
    """The shared flowers dataset; tests that need it skip with a reason when absent."""
    configured = os.environ.get("KKOT_DATASET_DIR")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "datasets" / "flowers"
    if not path.is_dir():
        pytest.skip(f"flowers dataset not found at {path} (set KKOT_DATASET_DIR)")
    return path


@pytest.fixture
def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    return _free_port()


async def start_model_server(
    aiohttp_server: Any, model_dir: Path, *, port: int = 0, **settings: Any
) -> str:
    """A real model server serving `model_dir` on the test's loop (`settings`: more
    ModelServerSettings, e.g. admin_enabled); its URL once it answers /ping."""
    from aiohttp import ClientSession

    from services.model.app import create_app
    from services.model.settings import ModelServerSettings

    app = create_app(ModelServerSettings(model_dir=model_dir, port=port, **settings))
    server = await aiohttp_server(app, port=port or None)
    url = str(server.make_url("")).rstrip("/")
    deadline = time.monotonic() + 60
    async with ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(f"{url}/ping") as response:
                if response.status == 200:
                    return url
            await asyncio.sleep(0.05)
    raise AssertionError("model server did not become ready")


def make_image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (320, 240), mode: str = "RGB", color: int = 120
) -> bytes:
    """A small generated image with some structure (a gradient), encoded as `fmt`."""
    from PIL import Image

    image = Image.linear_gradient("L").resize(size).convert(mode)
    if mode == "RGB":
        r = Image.linear_gradient("L").resize(size)
        g = Image.new("L", size, color)
        b = Image.linear_gradient("L").rotate(90).resize(size)
        image = Image.merge("RGB", (r, g, b))
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def jpeg_bytes() -> bytes:
    return make_image_bytes("JPEG")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    """Real Chromium, one per test module (on the module's event loop)."""
    from tests.browser import launch_chromium

    async with launch_chromium() as instance:
        yield instance
