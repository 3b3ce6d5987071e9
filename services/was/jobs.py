"""Accepted means done: every job answered 202 completes, or ends `failed` with a
reason, whatever happens to the process running it.

The photo and a `pending` record are stored before the 202 (`ClassificationService.
submit`), so a job can always be run again from what is stored. Recovery re-announces
pending jobs (`classification.requested`) and the usual consumer runs them; that
consumer is idempotent (a finished record is skipped) and counts its attempts, so a
job that keeps killing its worker ends `failed` after `job_max_attempts`.

- at start, once the model endpoint answers (bounded wait): every record left pending
  by an earlier run (created before this start);
- then every `job_sweep_interval_s`: records pending for longer than
  `job_stale_after_s` (an event lost or dead-lettered while the process kept running).

On AWS, SQS redelivers a message whose worker died before deleting it; the same resume
at start covers a message that was already gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from services.was.service import ClassificationService

__all__ = ["job_recovery", "resume_pending"]

_log = structlog.get_logger("kkot.was.jobs")
_BATCH = 500
# The longest wait for the model endpoint before resuming anyway (seconds).
_READY_WAIT_S = 180

Ready = Callable[[], Awaitable[bool]]


async def _always_ready() -> bool:
    return True


async def resume_pending(
    service: ClassificationService, *, created_before: datetime, max_attempts: int
) -> int:
    """Re-announce (or give up on) pending jobs created before `created_before`."""
    resumed = 0
    for stored in await service.store.list_pending(limit=_BATCH):
        if stored.created_at >= created_before:
            continue
        await service.resume(stored, max_attempts=max_attempts)
        resumed += 1
    if resumed:
        _log.info("jobs_resumed", count=resumed)
    return resumed


async def _sweep(
    service: ClassificationService,
    *,
    started: datetime,
    interval_s: float,
    stale_after_s: float,
    max_attempts: int,
    resume_on_start: bool,
    endpoint_ready: Ready,
) -> None:
    # Recovery must not keep WAS from starting, nor die of one bad pass.
    created_before = started
    # Resumed jobs would fail at once against a model that is still loading.
    for _ in range(_READY_WAIT_S):
        with contextlib.suppress(Exception):
            if await endpoint_ready():
                break
        await asyncio.sleep(1)
    if not resume_on_start:
        await asyncio.sleep(interval_s)
        created_before = datetime.now(UTC) - timedelta(seconds=stale_after_s)
    while True:
        try:
            await resume_pending(service, created_before=created_before, max_attempts=max_attempts)
        except Exception:
            _log.exception("job_recovery_failed")
        await asyncio.sleep(interval_s)
        created_before = datetime.now(UTC) - timedelta(seconds=stale_after_s)


@contextlib.asynccontextmanager
async def job_recovery(
    service: ClassificationService,
    *,
    interval_s: float,
    stale_after_s: float,
    max_attempts: int,
    resume_on_start: bool = True,
    endpoint_ready: Ready | None = None,
) -> AsyncIterator[None]:
    """Run the recovery sweep for as long as the block runs."""
    task = asyncio.create_task(
        _sweep(
            service,
            started=datetime.now(UTC),
            interval_s=interval_s,
            stale_after_s=stale_after_s,
            max_attempts=max_attempts,
            resume_on_start=resume_on_start,
            endpoint_ready=endpoint_ready or _always_ready,
        ),
        name="was-job-recovery",
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
