"""What WAS knows about the deployed model: name, version, labels, catalog, metrics.

Sources, newest wins:

- in local mode, the model server's `GET {endpoint_url}/admin/model` — read at start,
  and again whenever a prediction names a version other than the cached one (a swap
  happened) or a `model.deployed` event arrives;
- on AWS (no admin API), `model.deployed` events and the name/version every
  prediction carries.

Labels are kept so feedback can be validated against them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog

from shared.contracts.classification import CurrentModel
from shared.contracts.events import ModelDeployed
from shared.contracts.model import (
    Catalog,
    Evaluation,
    ExamplePhoto,
    LoadedModel,
    MisclassifiedPhoto,
)

__all__ = ["ModelInfo", "ModelSnapshot", "parse_admin_model"]

_log = structlog.get_logger("kkot.was.model_info")


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


def parse_admin_model(body: bytes) -> ModelSnapshot:
    """Read the model server's `/admin/model` answer (`LoadedModel`).

    Labels and catalog come from the answer itself, never from the artifact folder it
    names: that folder is on the model server's disk (another container on compose/AWS).
    """
    loaded = LoadedModel.model_validate_json(body)
    metadata = loaded.metadata
    metrics = dict(metadata.metrics)
    if loaded.evaluation is not None:
        metrics.setdefault("accuracy", loaded.evaluation.accuracy)
    return ModelSnapshot(
        name=metadata.name,
        version=metadata.version,
        labels=tuple(loaded.labels),
        catalog=loaded.catalog or Catalog(),
        source=metadata.source,
        created_at=metadata.created_at,
        metrics=metrics,
        evaluation=loaded.evaluation,
        examples=tuple(loaded.examples),
        misclassified=tuple(loaded.misclassified),
    )


class ModelInfo:
    """The cached snapshot and the ways to refresh it."""

    def __init__(
        self, session: aiohttp.ClientSession | None, admin_url: str | None, timeout_s: float
    ) -> None:
        self._session = session
        self._admin_url = admin_url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.snapshot: ModelSnapshot | None = None
        self._refreshing: asyncio.Task[ModelSnapshot | None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    async def refresh(self) -> ModelSnapshot | None:
        """Re-read `/admin/model` (single flight: concurrent callers share one fetch)."""
        if self._session is None or self._admin_url is None:
            return self.snapshot
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._fetch())
        return await asyncio.shield(self._refreshing)

    async def _fetch(self) -> ModelSnapshot | None:
        assert self._session is not None and self._admin_url is not None
        try:
            async with self._session.get(self._admin_url, timeout=self._timeout) as response:
                response.raise_for_status()
                body = await response.read()
            snapshot = await asyncio.to_thread(parse_admin_model, body)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            _log.warning("model_info_refresh_failed", url=self._admin_url, error=repr(exc))
            return self.snapshot
        if self.snapshot is None or self.snapshot.version != snapshot.version:
            _log.info("model_info_updated", model=snapshot.name, version=snapshot.version)
        self.snapshot = snapshot
        return snapshot

    def observe(self, model_name: str, model_version: str) -> None:
        """A prediction named this model: refresh in the background if it is new to us."""
        current = self.snapshot
        if current is not None and current.version == model_version:
            return
        if self._admin_url is None:
            # No admin API (AWS): the prediction itself is the best knowledge we have.
            self.snapshot = (
                replace(current, name=model_name, version=model_version)
                if current
                else ModelSnapshot(name=model_name, version=model_version)
            )
            return
        task = asyncio.create_task(self.refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def on_deployed(self, event: ModelDeployed) -> None:
        """A `model.deployed` event: re-read the admin API, or take the event's word."""
        if self._admin_url is not None:
            snapshot = await self.refresh()
            if snapshot is not None and snapshot.version == event.model_version:
                return
        current = self.snapshot
        base = current or ModelSnapshot(name=event.model_name, version=event.model_version)
        self.snapshot = replace(
            base,
            name=event.model_name,
            version=event.model_version,
            metrics=dict(event.metrics) or base.metrics,
        )

    async def close(self) -> None:
        """Cancel background refreshes."""
        tasks = [*self._background, *([self._refreshing] if self._refreshing else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
