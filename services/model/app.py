"""The model server application: `create_app(settings)`.

Resources live in one cleanup context: the decode thread pool, the batcher (with its
inference thread) and the model holder. The model loads and warms in a background task
so `/ping` can answer 503 while it does; SageMaker (and `kkot run`) wait for the 200.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from services.model.batching import Batcher
from services.model.holder import ModelHolder
from services.model.keys import BATCHER, CLASSIFIER, DECODE_POOL, HOLDER, SETTINGS
from services.model.predict import Classifier
from services.model.routes import setup_routes
from services.model.runtime_api_errors import runtime_error_middleware
from services.model.settings import ModelServerSettings
from shared.custom_attributes import CUSTOM_ATTRIBUTES_HEADER, request_id_attribute
from shared.errors import KkotError
from shared.logging import get_logger
from shared.metrics.catalog import MODEL_METRICS
from shared.metrics.http import METRICS, install_metrics, metrics_middleware
from shared.middleware import error_middleware, make_request_context_middleware

__all__ = ["SERVICE", "create_app"]

SERVICE = "model"
_log = get_logger("kkot.model.app")


def create_app(settings: ModelServerSettings) -> web.Application:
    """Build the SageMaker-compatible model server."""
    app = web.Application(
        # aiohttp refuses bigger bodies itself; the handler turns that into our 413.
        client_max_size=settings.max_body_bytes,
        middlewares=[
            make_request_context_middleware(SERVICE, request_id_from=_attribute_request_id),
            metrics_middleware,
            runtime_error_middleware,
            error_middleware,
        ],
    )
    app[SETTINGS] = settings
    install_metrics(app, SERVICE, settings, MODEL_METRICS)
    app.cleanup_ctx.append(_serving_resources)
    setup_routes(app, admin=settings.admin_enabled)
    return app


def _attribute_request_id(request: web.Request) -> str | None:
    # SageMaker forwards only the custom attributes: the caller's request id rides there.
    return request_id_attribute(request.headers.get(CUSTOM_ATTRIBUTES_HEADER))


async def _serving_resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="kkot-decode")
    batcher = Batcher(
        settings.max_batch_size,
        settings.max_batch_wait_ms,
        workers=settings.resolved_inference_workers(),
        metrics=app[METRICS],
    )
    holder = ModelHolder(settings.intra_op_threads, metrics=app[METRICS])
    app[DECODE_POOL] = pool
    app[BATCHER] = batcher
    app[HOLDER] = holder
    app[CLASSIFIER] = Classifier(
        batcher, pool, max_pixels=settings.max_pixels, default_top_k=settings.default_top_k
    )
    batcher.start()
    loader = asyncio.create_task(_initial_load(holder, settings), name="kkot-model-load")
    try:
        yield
    finally:
        loader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loader
        await batcher.close()
        pool.shutdown(wait=True)


async def _initial_load(holder: ModelHolder, settings: ModelServerSettings) -> None:
    try:
        await holder.load(settings.model_dir)
    except KkotError as exc:
        holder.load_error = exc.message
        _log.error("model_load_failed", model_dir=str(settings.model_dir), error=exc.message)
