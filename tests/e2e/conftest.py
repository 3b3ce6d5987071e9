"""The whole stack for integration and browser tests: the four services started
in-process by the runner's own composition (`services.runner.run_stack`), the real
model server serving the default model, on free ports of 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.runner import RunningStack, StackConfig, run_stack
from shared.ports import free_ports

__all__ = ["free_ports", "stack_config"]  # free_ports: imported from here by other tests


def stack_config(model_dir: Path, data_dir: Path, **overrides: Any) -> StackConfig:
    gateway_port, web_port, was_port, model_port, metrics_port = free_ports(5)
    values: dict[str, Any] = {
        "model_dir": model_dir,
        "data_dir": data_dir,
        "gateway_port": gateway_port,
        "web_port": web_port,
        "was_port": was_port,
        "model_port": model_port,
        "gateway_metrics_port": metrics_port,
        "ready_timeout_s": 120.0,
        # Generous limits: the tests that need tight ones build their own gateway.
        "gateway": {"rate_capacity": 10_000, "rate_refill_per_s": 10_000},
        **overrides,
    }
    return StackConfig(**values)


@pytest.fixture(scope="module")
def stack_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("was-data")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(default_model_dir: Path, stack_data_dir: Path) -> AsyncIterator[RunningStack]:
    """One running stack per test module."""
    async with run_stack(stack_config(default_model_dir, stack_data_dir)) as running:
        yield running


@pytest.fixture(scope="session")
def flower_photos(flowers_dir: Path) -> dict[str, list[Path]]:
    """A few photos per class (sorted, so runs are repeatable)."""
    return {
        folder.name: sorted(folder.glob("*.jpg"))[:4]
        for folder in sorted(flowers_dir.iterdir())
        if folder.is_dir()
    }


@pytest.fixture(scope="session")
def flower_photo(flower_photos: dict[str, list[Path]]) -> Path:
    return next(iter(flower_photos.values()))[0]


@pytest.fixture
def artifacts_dir() -> Iterator[Path]:
    path = Path(__file__).resolve().parents[2] / "test-artifacts"
    path.mkdir(exist_ok=True)
    yield path
