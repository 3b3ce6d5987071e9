"""What WAS knows about the deployed model: name, version, labels, catalog, metrics.

The one source is the endpoint itself: a `DescribeRequest` sent through
`invoke_endpoint` (the SageMaker contract, so it works the same on AWS, in compose and
here; WAS never uses the model server's local admin port). It is asked

- at start, again and again with a bounded backoff until the endpoint answers (WAS may
  start before the model server, or before a SageMaker endpoint is InService): no
  warm-up race, and `/api/v1/labels` answers 503 with Retry-After meanwhile;
- whenever a prediction names a version other than the known one (a deploy happened;
  every task sees this on its next prediction);
- when a `model.deployed` event arrives (every WAS task gets it through its own fan-out
  queue), until the endpoint serves that version (traffic shifting takes a while on AWS).

Labels are kept so feedback can be validated against them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from shared.contracts.classification import CurrentModel
from shared.contracts.events import ModelDeployed
from shared.contracts.model import (
    Catalog,
    Evaluation,
    ExamplePhoto,
    MisclassifiedPhoto,
    ModelDescription,
    Preprocessing,
)
from shared.errors import KkotError

__all__ = ["ModelInfo", "ModelSnapshot", "snapshot_of"]

_log = structlog.get_logger("kkot.was.model_info")

FetchDescription = Callable[[], Awaitable[ModelDescription]]


@dataclass(frozen=True)
class ModelSnapshot:
    """One consistent view of the deployed model."""

    name: str
    version: str
    labels: tuple[str, ...] = ()
    catalog: Catalog = field(default_factory=Catalog)
    source: str = "unknown"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    metrics: dict[str, float] = field(default_factory=dict)
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    evaluation: Evaluation | None = None
    examples: tuple[ExamplePhoto, ...] = ()
    misclassified: tuple[MisclassifiedPhoto, ...] = ()

    def public(self) -> CurrentModel:
        """The `CurrentModel` contract."""
        return CurrentModel(
            name=self.name,
            version=self.version,
            num_classes=len(self.labels),
            source=self.source,
            created_at=self.created_at,
            metrics=self.metrics,
            labels=list(self.labels),
            evaluation=self.evaluation,
            examples=list(self.examples),
            misclassified=list(self.misclassified),
        )


def snapshot_of(description: ModelDescription) -> ModelSnapshot:
    """The snapshot of an endpoint's `ModelDescription`."""
    metadata = description.metadata
    metrics = dict(metadata.metrics)
    if description.evaluation is not None:
        metrics.setdefault("accuracy", description.evaluation.accuracy)
    return ModelSnapshot(
        name=metadata.name,
        version=metadata.version,
        labels=tuple(description.labels),
        catalog=description.catalog or Catalog(),
        source=metadata.source,
        created_at=metadata.created_at,
        metrics=metrics,
        preprocessing=metadata.preprocessing,
        evaluation=description.evaluation,
        examples=tuple(description.examples),
        misclassified=tuple(description.misclassified),
    )


class ModelInfo:
    """The cached snapshot and the ways to refresh it."""

    def __init__(
        self,
        fetch_description: FetchDescription,
        *,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 5.0,
        follow_deploy_s: float = 120.0,
    ) -> None:
        self._fetch_description = fetch_description
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._follow_deploy_s = follow_deploy_s
        self.snapshot: ModelSnapshot | None = None
        self._refreshing: asyncio.Task[ModelSnapshot | None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        """Learn the model in the background, retrying until the endpoint answers."""
        self._spawn(self._until(lambda snapshot: snapshot is not None, deadline_s=None))

    async def refresh(self) -> ModelSnapshot | None:
        """Ask the endpoint once (single flight: concurrent callers share one call)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._fetch())
        return await asyncio.shield(self._refreshing)

    async def _fetch(self) -> ModelSnapshot | None:
        try:
            snapshot = snapshot_of(await self._fetch_description())
        except KkotError as exc:
            _log.warning("model_describe_failed", code=exc.code, error=exc.message)
            return None
        if self.snapshot is None or self.snapshot.version != snapshot.version:
            _log.info("model_info_updated", model=snapshot.name, version=snapshot.version)
        self.snapshot = snapshot
        return snapshot

    async def _until(
        self, done: Callable[[ModelSnapshot | None], bool], deadline_s: float | None
    ) -> None:
        """Refresh with a bounded backoff until `done(snapshot)` (or the deadline)."""
        loop = asyncio.get_running_loop()
        deadline = None if deadline_s is None else loop.time() + deadline_s
        pause = self._retry_initial_s
        while not done(await self.refresh()):
            if deadline is not None and loop.time() + pause > deadline:
                return
            await asyncio.sleep(pause)
            pause = min(self._retry_max_s, pause * 2)

    async def observe(self, model_name: str, model_version: str, *, wait_s: float = 2.0) -> None:
        """A prediction named this model: if it is new to us, refresh, waiting up to
        `wait_s` so that the answer which met the new version (or the very first answer
        after start) already carries its catalog; a slower refresh finishes in the
        background. Costs nothing while the version is the known one."""
        current = self.snapshot
        if current is not None and current.version == model_version:
            return
        task = self._spawn(self.refresh())
        await asyncio.wait({task}, timeout=wait_s)

    async def on_deployed(self, event: ModelDeployed) -> None:
        """A `model.deployed` event: re-describe until the endpoint serves that version.

        Returns after the first answer; if that is still the old version (traffic is
        shifting to the new one), a background task keeps asking for a bounded time."""
        snapshot = await self.refresh()
        if snapshot is None or snapshot.version != event.model_version:
            wanted = event.model_version
            self._spawn(
                self._until(
                    lambda s: s is not None and s.version == wanted,
                    deadline_s=self._follow_deploy_s,
                )
            )

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[None]:
        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def close(self) -> None:
        """Cancel background refreshes."""
        tasks = [*self._background, *([self._refreshing] if self._refreshing else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
