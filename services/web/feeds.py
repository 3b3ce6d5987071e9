"""Where live history comes from, run for the app's lifetime in `cleanup_ctx`:

- bus: `classification.completed` / `.failed` events: from the bus shared with WAS in
  one process, or (bus_backend "aws") from EventBridge through a queue of this task's
  own, so a browser connected to any web task sees every classification;
- poll: WAS's list endpoint, polled while anyone is listening.

Events carry data (labels, scores); the stream renders display names per listener.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from services.web.keys import BROADCASTER, BUS, SETTINGS, WAS
from services.web.live import Removed
from services.web.settings import WebSettings
from services.web.was_client import WasFailure
from shared.contracts.classification import (
    ClassificationRecord,
    ClassificationStatus,
    ScoredLabel,
)
from shared.contracts.events import (
    ClassificationCompleted,
    ClassificationDeleted,
    ClassificationFailed,
    ClassificationOutcome,
    Event,
    EventType,
)
from shared.events import AwsBusConfig, EventBus, FanoutConfig, create_bus, task_queue
from shared.metrics.bus import ObservedConsumer
from shared.metrics.http import METRICS

__all__ = ["LIVE_EVENT_TYPES", "live_feed", "own_bus", "record_of"]

_log = structlog.get_logger("kkot.web.live")
_CONSUMER = "web-live-history"
LIVE_EVENT_TYPES = (
    EventType.CLASSIFICATION_COMPLETED,
    EventType.CLASSIFICATION_FAILED,
    EventType.CLASSIFICATION_DELETED,
)


async def live_feed(app: web.Application) -> AsyncIterator[None]:
    """Feed the broadcaster from the bus (shared, or this task's own on AWS), else by
    polling WAS."""
    settings = app[SETTINGS]
    if settings.events_source == "bus" and BUS not in app and settings.bus_backend == "aws":
        async with own_bus(settings) as bus:
            app[BUS] = bus
            async with _bus_feed(app):
                yield
    elif settings.events_source == "bus" and BUS in app:
        async with _bus_feed(app):
            yield
    else:
        if settings.events_source == "bus":
            _log.warning("no_shared_bus_polling_instead")
        task = asyncio.create_task(_poll(app), name="web-live-poll")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def _bus_feed(app: web.Application) -> AsyncIterator[None]:
    broadcaster = app[BROADCASTER]

    async def on_event(event: Event) -> None:
        data = event.data
        if isinstance(data, ClassificationDeleted):
            broadcaster.publish(Removed(data.classification_id))
            return
        outcome = (
            data.outcome
            if isinstance(data, ClassificationCompleted | ClassificationFailed)
            else None
        )
        if outcome is not None:
            broadcaster.publish(record_of(outcome))

    observed = ObservedConsumer(app[METRICS], _CONSUMER, on_event)
    subscription = await app[BUS].subscribe(_CONSUMER, LIVE_EVENT_TYPES, observed)
    try:
        yield
    finally:
        await subscription.close()


def record_of(outcome: ClassificationOutcome) -> ClassificationRecord:
    """The history item of an event's outcome; display names are filled in per
    listener's language by the stream (labels stand in until then)."""
    best = outcome.top_k[0] if outcome.top_k else None
    return ClassificationRecord(
        id=outcome.classification_id,
        status=outcome.status,
        created_at=outcome.created_at,
        completed_at=outcome.completed_at,
        filename=outcome.filename,
        content_type=outcome.content_type,
        image_url=outcome.image_url,
        label=best.label if best else None,
        confidence=best.score if best else None,
        top_k=[
            ScoredLabel(label=e.label, display_name=e.label, score=e.score) for e in outcome.top_k
        ],
        model_name=outcome.model_name,
        model_version=outcome.model_version,
    )


@contextlib.asynccontextmanager
async def own_bus(settings: WebSettings) -> AsyncIterator[EventBus]:
    """EventBridge through this task's own fan-out queue (standalone web on AWS)."""
    assert settings.event_bus_name is not None
    fanout = FanoutConfig(settings.event_bus_name, settings.region, settings.aws_endpoint_url)
    async with task_queue(fanout, "web", LIVE_EVENT_TYPES) as queue_url:
        bus = create_bus(
            "aws",
            aws=AwsBusConfig(
                event_bus_name=settings.event_bus_name,
                queue_urls={_CONSUMER: queue_url},
                region=settings.region,
                endpoint_url=settings.aws_endpoint_url,
                wait_time_s=settings.events_wait_time_s,
            ),
        )
        await bus.start()
        try:
            yield bus
        finally:
            await bus.close()


async def _poll(app: web.Application) -> None:
    settings = app[SETTINGS]
    broadcaster = app[BROADCASTER]
    # Ids already announced (or there before the first poll); bounded. Pages drop
    # an announced id they already show, so a late burst does no harm.
    seen: deque[str] = deque(maxlen=1000)
    primed = False
    while True:
        await asyncio.sleep(settings.poll_interval_s)
        if primed and len(broadcaster) == 0:
            continue  # nobody listens: spare WAS the request
        try:
            page = await app[WAS].list(settings.default_language, limit=20)
        except WasFailure as exc:
            _log.warning("live_poll_failed", code=exc.code)
            continue
        fresh = [
            record
            for record in page.items
            if record.status == ClassificationStatus.COMPLETED and record.id not in seen
        ]
        seen.extend(record.id for record in fresh)
        if primed:
            for record in reversed(fresh):  # oldest first, as they happened
                broadcaster.publish(record)
        primed = True
