"""`GET /api/v1/models`: every registered model version, for the history of accuracy
over time, with the deployed one marked. Read from the local registry folder when WAS
is given one (`registry_dir`, as `kkot run` does); an empty list otherwise."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from services.was import keys
from shared.contracts.classification import ModelVersions, RegisteredVersion
from shared.http.answers import json_answer

__all__ = ["model_versions", "read_versions"]


def read_versions(registry_dir: Path) -> list[RegisteredVersion]:
    """The registry's versions, oldest first (blocking: file reads)."""
    from services.pipeline.registry.local import LocalRegistry

    if not registry_dir.is_dir():
        return []
    registry = LocalRegistry(registry_dir)
    current = registry.deployment().current
    return [
        RegisteredVersion(
            name=model.group,
            version=str(model.version),
            status=str(model.status),
            created_at=model.created_at,
            accuracy=model.metrics.get("accuracy"),
            deployed=current is not None
            and (current.group, current.version) == (model.group, model.version),
        )
        for model in sorted(registry.list_versions(), key=lambda m: m.created_at)
    ]


async def model_versions(request: web.Request) -> web.Response:
    """The handler: the versions as `ModelVersions`."""
    registry_dir = request.app[keys.SETTINGS].registry_dir
    versions = [] if registry_dir is None else await asyncio.to_thread(read_versions, registry_dir)
    return json_answer(ModelVersions(versions=versions))
