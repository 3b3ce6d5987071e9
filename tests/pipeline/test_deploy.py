"""Deploy to a live model server: swap, smoke test, rollback, no failed request."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import aiohttp
import pytest

from services.pipeline.deploy import deploy_version, rollback
from services.pipeline.errors import RegistryError, SmokeTestFailed
from services.pipeline.registry import ApprovalStatus, Lineage, LocalRegistry, deployed_model_dir
from services.pipeline.settings import PipelineSettings
from shared.contracts.events import Event, EventType
from shared.events import MemoryEventBus
from tests.pipeline.conftest import served_version

pytestmark = [pytest.mark.dataset, pytest.mark.slow]

GROUP = "kkot-flowers"


def _settings(root: Path, url: str) -> PipelineSettings:
    return PipelineSettings(registry_dir=root, endpoint_url=url, swap_timeout_s=120)


def _add_version(registry: LocalRegistry, *, broken_smoke: bool = False) -> int:
    """Register another Approved copy of version 1 (optionally with a lying smoke set)."""
    source = registry.artifact_dir(registry.get_version(GROUP, 1))
    if not broken_smoke:
        model = registry.register(
            GROUP, source, status=ApprovalStatus.APPROVED, metrics={}, lineage=Lineage()
        )
        return model.version
    staging = source.parent.parent / "staging-broken"
    shutil.copytree(source, staging)
    smoke = json.loads((staging / "smoke_test.json").read_text())
    labels = sorted({case["label"] for case in smoke["cases"]})
    for case in smoke["cases"]:  # expect the next label: every answer is now "wrong"
        case["label"] = labels[(labels.index(case["label"]) + 1) % len(labels)]
    (staging / "smoke_test.json").write_text(json.dumps(smoke))
    model = registry.register(
        GROUP, staging, status=ApprovalStatus.APPROVED, metrics={}, lineage=Lineage()
    )
    shutil.rmtree(staging)
    return model.version


async def test_deploy_swaps_the_served_model_and_smoke_test_passes(
    registry_root: Path, model_server: str
) -> None:
    registry = LocalRegistry(registry_root)
    bus = MemoryEventBus()
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    await bus.subscribe("test", [EventType.MODEL_DEPLOYED], collect)
    await bus.start()
    try:
        assert await served_version(model_server) == "imagenet-1"
        outcome = await deploy_version(
            registry, _settings(registry_root, model_server), GROUP, 1, bus=bus
        )
        assert outcome.live and outcome.smoke is not None and outcome.smoke.passed
        assert outcome.smoke.total >= 3
        assert outcome.previous_version == "imagenet-1"
        assert await served_version(model_server) == "1"
        assert deployed_model_dir(registry_root) == registry.artifact_dir(
            registry.get_version(GROUP, 1)
        )
        await bus.drain()
    finally:
        await bus.close()
    assert [e.data.model_version for e in seen] == ["1"]  # type: ignore[union-attr]


async def test_rollback_serves_the_previous_version(registry_root: Path, model_server: str) -> None:
    registry = LocalRegistry(registry_root)
    settings = _settings(registry_root, model_server)
    second = _add_version(registry)
    await deploy_version(registry, settings, GROUP, 1)
    await deploy_version(registry, settings, GROUP, second)
    assert await served_version(model_server) == str(second)
    outcome = await rollback(registry, settings)
    assert outcome.version == 1 and outcome.live
    assert await served_version(model_server) == "1"
    assert registry.deployment().current is not None
    assert registry.deployment().current.version == 1  # type: ignore[union-attr]


async def test_failed_smoke_test_rolls_back_automatically(
    registry_root: Path, model_server: str
) -> None:
    registry = LocalRegistry(registry_root)
    settings = _settings(registry_root, model_server)
    await deploy_version(registry, settings, GROUP, 1)
    broken = _add_version(registry, broken_smoke=True)
    with pytest.raises(SmokeTestFailed, match="rolled back to 1"):
        await deploy_version(registry, settings, GROUP, broken)
    assert await served_version(model_server) == "1"
    assert registry.deployment().current.version == 1  # type: ignore[union-attr]


async def test_only_approved_versions_deploy(registry_root: Path, model_server: str) -> None:
    registry = LocalRegistry(registry_root)
    registry.set_status(GROUP, 1, ApprovalStatus.PENDING)
    with pytest.raises(RegistryError, match="PendingManualApproval"):
        await deploy_version(registry, _settings(registry_root, model_server), GROUP, 1)
    assert await served_version(model_server) == "imagenet-1"


async def test_without_a_server_the_deploy_is_recorded(registry_root: Path) -> None:
    registry = LocalRegistry(registry_root)
    outcome = await deploy_version(
        registry, _settings(registry_root, "http://127.0.0.1:9"), GROUP, 1
    )
    assert not outcome.live
    assert "next `kkot run` serves it" in outcome.message
    deployed = registry.get_version(GROUP, 1)
    assert deployed_model_dir(registry_root) == registry.artifact_dir(deployed)


async def test_no_request_fails_while_deploying_under_load(
    registry_root: Path, model_server: str, flowers_dir: Path
) -> None:
    registry = LocalRegistry(registry_root)
    image = sorted((flowers_dir / "astilbe").glob("*.jpg"))[0].read_bytes()
    failures: list[str] = []
    versions: dict[str, int] = {}
    done = asyncio.Event()
    deadline = time.monotonic() + 60  # bounded in time ...
    max_requests = 1500  # ... and in count
    sent = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            async with session.post(
                f"{model_server}/invocations",
                data=image,
                headers={"Content-Type": "image/jpeg"},
            ) as response:
                body = await response.read()
                if response.status != 200:
                    failures.append(f"{response.status} {body[:200]!r}")
                else:
                    version = json.loads(body)["model_version"]
                    versions[version] = versions.get(version, 0) + 1
            if done.is_set() and versions.get("1", 0) >= 20:
                return

    async with aiohttp.ClientSession() as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(4)]
        await asyncio.sleep(0.5)  # load is flowing before the swap starts
        outcome = await deploy_version(registry, _settings(registry_root, model_server), GROUP, 1)
        done.set()
        await asyncio.gather(*workers)
    assert outcome.live
    assert failures == []
    assert versions.get("imagenet-1", 0) > 0 and versions.get("1", 0) > 0, versions
