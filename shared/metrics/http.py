"""Metrics of an aiohttp service: the request middleware, the `/metrics` handler, the
EMF flush task and the separate listener the gateway serves its own metrics on.

Routes are labelled with their template (`resource.canonical`), never the raw path, so
an attacker walking random URLs adds no series: every unmatched path is `unmatched`.
A handler may name its route itself (`ROUTE_LABEL`), as the gateway's catch-all proxy
does with the upstream it chose.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST

from shared.metrics.catalog import HTTP_DURATION, HTTP_METRICS, HTTP_REQUESTS, MetricDef
from shared.metrics.emf import EmfBuffer
from shared.metrics.recorder import Metrics
from shared.settings import ServiceSettings

__all__ = [
    "METRICS",
    "ROUTE_LABEL",
    "emf_flusher",
    "emit_to_stdout",
    "install_metrics",
    "metrics_endpoint",
    "metrics_listener",
    "metrics_middleware",
    "route_label",
]

METRICS = web.AppKey("metrics", Metrics)
# A handler's own name for its route (bounded: a handful of values per service).
ROUTE_LABEL = web.RequestKey("kkot.route_label", str)
UNMATCHED = "unmatched"
# Anything else (`FOO /`) is counted as "other": methods are client-chosen strings.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# aiohttp's status when the client went away before the answer (nginx's convention).
CLIENT_CLOSED = 499


def install_metrics(
    app: web.Application,
    service: str,
    settings: ServiceSettings,
    definitions: Iterable[MetricDef] = (),
) -> Metrics:
    """Give `app` its own `Metrics` (the HTTP families plus `definitions`), with an EMF
    buffer flushed to the log when `settings.metrics_emf` (on AWS)."""
    emf = (
        EmfBuffer(service, settings.metrics_namespace, emit_to_stdout)
        if settings.metrics_emf
        else None
    )
    metrics = Metrics(service, (*HTTP_METRICS, *definitions), emf=emf)
    app[METRICS] = metrics
    app.cleanup_ctx.append(emf_flusher(settings.metrics_emf_interval_s))
    return metrics


def route_label(request: web.Request) -> str:
    """The route template that matched `request` (or the handler's own label)."""
    if ROUTE_LABEL in request:
        return request[ROUTE_LABEL]
    resource = request.match_info.route.resource
    return str(resource.canonical) if resource is not None else UNMATCHED


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request by route template, method and final status."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        labels = {
            "route": route_label(request),
            "method": request.method if request.method in _METHODS else "other",
            "status": str(status),
        }
        metrics = request.app[METRICS]
        metrics.count(HTTP_REQUESTS, labels)
        metrics.observe(HTTP_DURATION, labels, time.perf_counter() - started)


async def metrics_endpoint(request: web.Request) -> web.Response:
    """`GET /metrics`: this service's metrics in the Prometheus text format."""
    return web.Response(
        body=request.app[METRICS].exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def emf_flusher(interval_s: float) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that writes the app's EMF records every `interval_s` and once
    more at shutdown (so a stopping task's last figures are not lost)."""

    async def flusher(app: web.Application) -> AsyncIterator[None]:
        emf = app[METRICS].emf
        if emf is None:
            yield
            return

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_s)
                emf.flush()

        task = asyncio.create_task(loop(), name="kkot-emf-flush")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            emf.flush()

    return flusher


def emit_to_stdout(record: dict[str, object]) -> None:
    """Write one EMF record as one JSON line on stdout (awslogs ships it to CloudWatch).

    Not through structlog: CloudWatch extracts metrics only from lines that are whole
    JSON objects, so the records must not depend on the log format (console or JSON)
    nor disappear under a `warning` log level."""
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


@contextlib.asynccontextmanager
async def metrics_listener(metrics: Metrics, host: str, port: int) -> AsyncIterator[None]:
    """Serve `GET /metrics` of `metrics` alone on `host:port`, a listener apart from the
    service's own (the gateway's public one must never answer it)."""
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/metrics", metrics_endpoint, name="metrics")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()
