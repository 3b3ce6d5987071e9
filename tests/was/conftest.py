"""Fixtures for WAS tests: the real model server (default model) on a real socket, and
WAS apps built by `create_app` against it."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.model.app import create_app as create_model_app
from services.model.settings import ModelServerSettings
from services.was.app import create_app
from services.was.settings import WasSettings
from shared.events import EventBus, MemoryEventBus
from shared.ports import free_port


class _ServerThread(threading.Thread):
    """The model server on its own event loop, so one instance serves every test."""

    def __init__(self, app: web.Application, port: int) -> None:
        super().__init__(name="model-server", daemon=True)
        self.app = app
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self._shutdown: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.close()

    async def _serve(self) -> None:
        self._shutdown = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.started.set()
        await self._shutdown.wait()
        await runner.cleanup()

    def stop(self) -> None:
        if self._shutdown is not None:
            self.loop.call_soon_threadsafe(self._shutdown.set)
        self.join(timeout=30)


@pytest.fixture(scope="session")
def model_server_url(default_model_dir: Path) -> Iterator[str]:
    """URL of a running model server with the default model, ready (`/ping` 200)."""
    port = free_port()
    app = create_model_app(ModelServerSettings(model_dir=default_model_dir, port=port))
    server = _ServerThread(app, port)
    server.start()
    assert server.started.wait(30), "model server did not start"
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("model server never became ready")
        time.sleep(0.2)
    yield url
    server.stop()


def was_settings(tmp_path: Path, endpoint_url: str, **overrides: Any) -> WasSettings:
    """Test settings: data under tmp_path, fast retries."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "was",
        "endpoint_url": endpoint_url,
        "retry_base_delay_s": 0.01,
        "retry_max_delay_s": 0.05,
        "connect_timeout_s": 1.0,
        "read_timeout_s": 30.0,
    }
    values.update(overrides)
    return WasSettings(**values)


WasClientFactory = Callable[..., Any]


@pytest.fixture
async def bus() -> AsyncIterator[MemoryEventBus]:
    """A started memory bus owned by the test (as `kkot run` owns the process's bus)."""
    bus = MemoryEventBus()
    await bus.start()
    yield bus
    await bus.close()


@pytest.fixture
async def make_was(aiohttp_client: Any, tmp_path: Path, model_server_url: str) -> WasClientFactory:
    """Build WAS (`create_app`) on a real test server; keyword arguments override settings."""

    async def make(*, bus: EventBus | None = None, **overrides: Any) -> TestClient[Any, Any]:
        overrides.setdefault("endpoint_url", model_server_url)
        settings = was_settings(tmp_path, **overrides)
        client: TestClient[Any, Any] = await aiohttp_client(create_app(settings, bus=bus))
        return client

    return make


@pytest.fixture
async def was(make_was: WasClientFactory, bus: MemoryEventBus) -> TestClient[Any, Any]:
    """WAS against the real model server, sharing the test's bus."""
    client: TestClient[Any, Any] = await make_was(bus=bus)
    return client


@pytest.fixture(scope="session")
def flower_photo(flowers_dir: Path) -> tuple[str, bytes]:
    """One real photo of a bellflower from the dataset (name, bytes)."""
    path = sorted((flowers_dir / "bellflower").glob("*.jpg"))[0]
    return path.name, path.read_bytes()
