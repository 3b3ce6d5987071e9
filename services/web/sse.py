"""`GET /events`: completed classifications as server-sent events, each carrying the
history item already rendered in the listener's language."""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web

from services.web.keys import BROADCASTER, SETTINGS, WAS
from services.web.live import LiveItem, Removed, TooManyListeners
from services.web.rendering import language_of, render_text
from services.web.security import CONTENT_SECURITY_POLICY
from services.web.was_client import WasFailure
from shared.contracts.classification import ClassificationRecord
from shared.contracts.model import Language
from shared.errors import ServiceUnavailable

__all__ = ["events"]

_RETRY_MS = 3000


async def events(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    language = language_of(request)
    names = await _display_names(request, language)
    try:
        async with request.app[BROADCASTER].listen() as listener:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache, no-transform",
                    # Proxies (nginx and alike) must not buffer the stream.
                    "X-Accel-Buffering": "no",
                    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "X-Content-Type-Options": "nosniff",
                }
            )
            await response.prepare(request)
            # The browser leaving (or the gateway dropping it) ends the stream quietly.
            with contextlib.suppress(ConnectionResetError):
                await _stream(
                    request,
                    response,
                    listener.queue,
                    names,
                    heartbeat_s=settings.sse_heartbeat_s,
                    idle_timeout_s=settings.sse_idle_timeout_s,
                )
            return response
    except TooManyListeners:
        raise ServiceUnavailable(
            "live updates are full; retry later", code="too_many_streams", retry_after=5
        ) from None


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    queue: asyncio.Queue[LiveItem | None],
    names: dict[str, str],
    *,
    heartbeat_s: float,
    idle_timeout_s: float,
) -> None:
    """Write events as they come and a heartbeat comment when idle, until the end
    marker; after `idle_timeout_s` without an event the stream ends (a forgotten tab
    gives its slot back; an open page's EventSource reconnects after `retry`)."""
    await response.write(f"retry: {_RETRY_MS}\n: connected\n\n".encode())
    loop = asyncio.get_running_loop()
    last_event = loop.time()
    while True:
        try:
            record = await asyncio.wait_for(queue.get(), timeout=heartbeat_s)
        except TimeoutError:
            if loop.time() - last_event >= idle_timeout_s:
                return
            await response.write(b": heartbeat\n\n")
            continue
        last_event = loop.time()
        if record is None:
            return
        if isinstance(record, Removed):
            data = json.dumps({"id": record.id})
            await response.write(f"event: removed\ndata: {data}\n\n".encode())
            continue
        if record.label and record.label not in names:
            # A label this stream has not seen: a new model was deployed. WAS knows it.
            names.update(await _display_names(request, language_of(request)))
        await response.write(_event(request, record, names))


async def _display_names(request: web.Request, language: Language) -> dict[str, str]:
    """label -> display name in `language`, from WAS (empty when WAS can't say)."""
    try:
        answer = await request.app[WAS].labels(language)
    except WasFailure:
        return {}
    return {info.label: info.display_name for info in answer.labels}


def _event(request: web.Request, record: ClassificationRecord, names: dict[str, str]) -> bytes:
    if record.label and record.label in names:
        record = record.model_copy(update={"display_name": names[record.label]})
    html = render_text(request, "_history_item.html", record=record)
    data = json.dumps({"id": record.id, "html": html}, ensure_ascii=False)
    return f"id: {record.id}\nevent: classification\ndata: {data}\n\n".encode()
