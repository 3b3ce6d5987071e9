"""Where live history comes from, run for the app's lifetime in `cleanup_ctx`:

- bus: `classification.completed` events from the event bus shared with WAS;
- poll: WAS's list endpoint, polled while anyone is listening (separate containers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from services.web.keys import BROADCASTER, BUS, SETTINGS, WAS
from services.web.was_client import WasFailure
from shared.contracts.classification import ClassificationStatus
from shared.contracts.events import ClassificationCompleted, Event, EventType

__all__ = ["live_feed"]

_log = structlog.get_logger("kkot.web.live")
_CONSUMER = "web-live-history"


async def live_feed(app: web.Application) -> AsyncIterator[None]:
    """Feed the broadcaster from the bus when one is shared, else by polling WAS."""
    settings = app[SETTINGS]
    if settings.events_source == "bus" and BUS in app:
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
        if isinstance(event.data, ClassificationCompleted):
            broadcaster.publish(event.data.record)

    subscription = await app[BUS].subscribe(
        _CONSUMER, [EventType.CLASSIFICATION_COMPLETED], on_event
    )
    try:
        yield
    finally:
        await subscription.close()


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
