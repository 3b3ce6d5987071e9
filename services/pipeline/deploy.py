"""Deploy and roll back registered versions on the local model server.

A deploy asks the running server to load the new artifact (`POST /admin/model`): the
server loads, validates and warms it while the old model keeps answering, then swaps
atomically, so in-flight requests finish on the old one and none fails. Then the smoke
test runs through the endpoint; if it fails the previous artifact is swapped back in
and the deploy is reported as failed (the registry's deployment is unchanged).

With no server running, a deploy only records the version as deployed: the next
`kkot run` serves it (`deployed_model_dir`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import ValidationError

from services.pipeline.errors import DeployError, RegistryError, SmokeTestFailed
from services.pipeline.events import publish_deployed
from services.pipeline.registry import (
    ApprovalStatus,
    DeploymentRecord,
    LocalRegistry,
    ModelVersion,
)
from services.pipeline.settings import PipelineSettings
from services.pipeline.smoke_check import SmokeResult, run_smoke_test
from services.pipeline.summary import Deployed, SmokeTestSummary
from shared.contracts.events import ModelDeployed
from shared.contracts.model import LoadedModel, SwapModelRequest
from shared.events import EventBus
from shared.logging import get_logger

__all__ = ["DeployOutcome", "ModelServerAdmin", "deploy_version", "rollback"]

_log = get_logger("kkot.pipeline.deploy")


@dataclass(frozen=True)
class DeployOutcome:
    """What a deploy or rollback did."""

    group: str
    version: int
    live: bool
    message: str
    previous_version: str | None = None
    smoke: SmokeResult | None = None

    def summary(self) -> Deployed:
        """What the deploy or rollback did, as the pipeline reports it."""
        smoke = self.smoke
        return Deployed(
            group=self.group,
            version=self.version,
            live=self.live,
            message=self.message,
            previous_version=self.previous_version,
            smoke_test=None
            if smoke is None
            else SmokeTestSummary(correct=smoke.correct, total=smoke.total, passed=smoke.passed),
        )


class ModelServerAdmin:
    """The model server's admin API over HTTP (aiohttp)."""

    def __init__(self, session: aiohttp.ClientSession, settings: PipelineSettings) -> None:
        self._session = session
        self._base = settings.endpoint_url.rstrip("/")
        self._settings = settings

    async def current(self) -> LoadedModel | None:
        """The loaded model, or None when no server answers at the URL."""
        timeout = aiohttp.ClientTimeout(
            total=self._settings.request_timeout_s, connect=self._settings.connect_timeout_s
        )
        try:
            async with self._session.get(f"{self._base}/admin/model", timeout=timeout) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise DeployError(
                        f"model server at {self._base} answered GET /admin/model with "
                        f"{resp.status}: {body[:300]!r}"
                    )
        except (aiohttp.ClientConnectionError, TimeoutError):
            return None
        return _loaded(body)

    async def swap(self, model_dir: Path) -> LoadedModel:
        """Load, warm and swap in `model_dir`; raise DeployError if the server refuses."""
        if not model_dir.is_absolute():
            raise DeployError(f"model_dir must be absolute, got {model_dir}")
        request = SwapModelRequest(model_dir=str(model_dir))
        timeout = aiohttp.ClientTimeout(
            total=self._settings.swap_timeout_s, connect=self._settings.connect_timeout_s
        )
        try:
            async with self._session.post(
                f"{self._base}/admin/model", json=request.model_dump(mode="json"), timeout=timeout
            ) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise DeployError(
                        f"model server refused {model_dir}: {resp.status} {body[:500]!r}"
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeployError(f"swap to {model_dir} failed: {type(exc).__name__}: {exc}") from exc
        return _loaded(body)


def _loaded(body: bytes) -> LoadedModel:
    try:
        return LoadedModel.model_validate_json(body)
    except ValidationError as exc:
        raise DeployError(f"the model server's answer is not a LoadedModel: {exc}") from exc


async def deploy_version(
    registry: LocalRegistry,
    settings: PipelineSettings,
    group: str,
    version: int,
    *,
    bus: EventBus | None = None,
) -> DeployOutcome:
    """Serve `group` `version` (must be Approved); smoke-test it; roll back on failure."""
    model = registry.get_version(group, version)
    if model.status != ApprovalStatus.APPROVED:
        raise RegistryError(
            f"{group} version {version} is {model.status.value}; only Approved versions "
            f"deploy (kkot models approve {version})"
        )
    artifact = registry.artifact_dir(model)
    previous = registry.deployment().current
    async with aiohttp.ClientSession() as session:
        admin = ModelServerAdmin(session, settings)
        serving = await admin.current()
        if serving is None:
            registry.record_deployment(model)
            message = (
                f"no model server at {settings.endpoint_url}: recorded {group} version "
                f"{version} as deployed; the next `kkot run` serves it"
            )
            _log.warning("deploy_recorded_only", group=group, version=version)
            await _announce(bus, model, serving_version(previous))
            return DeployOutcome(group, version, False, message, serving_version(previous))
        old_dir = Path(serving.model_dir)
        old_version = serving.metadata.version
        _log.info("deploy_swapping", group=group, version=version, replacing=old_version)
        await admin.swap(artifact)
        try:
            smoke = await run_smoke_test(settings, artifact, str(version))
        except Exception:
            # Whatever broke the smoke test, the old model must serve again.
            await admin.swap(old_dir)
            raise
        if not smoke.passed:
            _log.error("smoke_test_failed_rolling_back", failures=smoke.failures[:5])
            await admin.swap(old_dir)
            raise SmokeTestFailed(
                f"smoke test failed for {group} version {version} "
                f"({smoke.correct}/{smoke.total} right: {'; '.join(smoke.failures[:3])}); "
                f"rolled back to {old_version} ({old_dir})"
            )
    registry.record_deployment(model)
    await _announce(bus, model, old_version)
    return DeployOutcome(
        group,
        version,
        True,
        f"{group} version {version} is live at {settings.endpoint_url} "
        f"(smoke test {smoke.correct}/{smoke.total})",
        old_version,
        smoke,
    )


async def rollback(
    registry: LocalRegistry, settings: PipelineSettings, *, bus: EventBus | None = None
) -> DeployOutcome:
    """Serve the previously deployed version again."""
    state = registry.deployment()
    if not state.history:
        raise RegistryError("no previous deployment to roll back to")
    target = state.history[-1]
    current_version = serving_version(state.current)
    model = registry.get_version(target.group, target.version)
    async with aiohttp.ClientSession() as session:
        admin = ModelServerAdmin(session, settings)
        serving = await admin.current()
        smoke: SmokeResult | None = None
        if serving is not None:
            await admin.swap(Path(target.model_dir))
            smoke = await run_smoke_test(settings, Path(target.model_dir), str(target.version))
            if not smoke.passed:
                await admin.swap(Path(serving.model_dir))
                raise SmokeTestFailed(
                    f"smoke test failed after rolling back to {target.group} version "
                    f"{target.version}; {serving.metadata.version} serves again: "
                    + "; ".join(smoke.failures[:3])
                )
    registry.record_rollback()
    await _announce(bus, model, current_version)
    live = serving is not None
    message = f"rolled back to {target.group} version {target.version}" + (
        " (live)" if live else f"; no model server at {settings.endpoint_url}, recorded"
    )
    return DeployOutcome(target.group, target.version, live, message, current_version, smoke)


def serving_version(record: DeploymentRecord | None) -> str | None:
    return None if record is None else str(record.version)


async def _announce(bus: EventBus | None, model: ModelVersion, previous: str | None) -> None:
    await publish_deployed(
        bus,
        ModelDeployed(
            model_name=model.group,
            model_version=str(model.version),
            previous_version=previous,
            metrics=model.metrics,
        ),
    )
