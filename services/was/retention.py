"""Photos are not kept forever: records older than `retention_days` are deleted with
their photos, checked at start and then every `retention_sweep_interval_s`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import structlog

from services.was.service import ClassificationService

__all__ = ["retention"]

_log = structlog.get_logger("kkot.was.retention")


async def _sweep(service: ClassificationService, days: float, interval_s: float) -> None:
    while True:
        try:
            cutoff = datetime.now(UTC) - timedelta(days=days)
            # In batches of a few hundred; the loop yields at every store call.
            for _ in range(1000):
                if await service.purge_older_than(cutoff) == 0:
                    break
        except Exception:
            _log.exception("retention_sweep_failed")
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def retention(
    service: ClassificationService, *, days: float | None, interval_s: float
) -> AsyncIterator[None]:
    """Enforce the retention period while the block runs (`days` None: keep forever)."""
    if days is None:
        yield
        return
    task = asyncio.create_task(_sweep(service, days, interval_s), name="was-retention")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
