"""`create_app(settings, *, bus=None)`: WAS with its resources in cleanup_ctx.

When every service runs in one process (`kkot run`), the composer creates the memory
bus, starts and closes it, and passes it in; standalone WAS makes (and owns) its own.
Cleanup runs in reverse order, so consumers stop before the store and clients close.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus

import aioboto3
import aiohttp
import structlog
from aiohttp import web

from services.was import keys
from services.was.endpoint import EndpointClient
from services.was.jobs import job_recovery
from services.was.model_info import ModelInfo
from services.was.openapi import build_openapi
from services.was.retention import retention
from services.was.routes import ROUTES, setup_routes
from services.was.sagemaker_runtime import connect_runtime
from services.was.service import ClassificationService
from services.was.settings import WasSettings
from services.was.store import SqliteClassificationStore
from services.was.store_dynamodb import DynamoDBClassificationStore
from shared import server_header
from shared.aws_config import AwsClientConfig
from shared.contracts.events import EventType
from shared.events import (
    AwsBusConfig,
    EventBus,
    FanoutConfig,
    IdempotentConsumer,
    create_bus,
    task_queue,
)
from shared.metrics.bus import ObservedConsumer
from shared.metrics.catalog import BUS_METRICS
from shared.metrics.http import METRICS, install_metrics, metrics_middleware
from shared.middleware import error_middleware, make_request_context_middleware
from shared.resilience import CircuitBreaker, RetryPolicy
from shared.storage import LocalBlobStore, S3BlobStore

__all__ = ["FANOUT_EVENT_TYPES", "create_app"]

_log = structlog.get_logger("kkot.was")
# Consumer names: one SQS queue each on AWS.
CLASSIFIER_CONSUMER = "was-classifier"
MODEL_CONSUMER = "was-model-info"
# What every WAS task must hear (its own fan-out queue on AWS): a deploy.
FANOUT_EVENT_TYPES = (EventType.MODEL_DEPLOYED,)

Context = Callable[[web.Application], AsyncIterator[None]]


def _bus_ctx(given: EventBus | None) -> Context:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        async with contextlib.AsyncExitStack() as stack:
            bus = given
            if bus is None:
                bus = create_bus(settings.bus_backend, aws=await _aws_bus_config(settings, stack))
                await bus.start()
                stack.push_async_callback(bus.close)  # before the fan-out queue goes
            app[keys.BUS] = bus
            yield

    return ctx


async def _aws_bus_config(
    settings: WasSettings, stack: contextlib.AsyncExitStack
) -> AwsBusConfig | None:
    """The `was` work queue for background jobs, and this task's own fan-out queue for
    `model.deployed` (every task must re-describe the endpoint after a deploy)."""
    if settings.bus_backend != "aws" or not settings.event_bus_name:
        return None
    fanout = FanoutConfig(settings.event_bus_name, settings.region, settings.aws_endpoint_url)
    deploys = await stack.enter_async_context(task_queue(fanout, "was", FANOUT_EVENT_TYPES))
    return AwsBusConfig(
        event_bus_name=settings.event_bus_name,
        queue_urls={CLASSIFIER_CONSUMER: settings.events_queue_url or "", MODEL_CONSUMER: deploys},
        region=settings.region,
        endpoint_url=settings.aws_endpoint_url,
        wait_time_s=settings.events_wait_time_s,
        retry_visibility_s=settings.events_retry_visibility_s,
        max_receive_count=settings.events_max_receive_count,
    )


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    async with contextlib.AsyncExitStack() as stack:
        session = aioboto3.Session()
        region, endpoint_url = settings.region, settings.aws_endpoint_url
        config = AwsClientConfig().for_aioboto3()
        if settings.store_backend == "dynamodb" and settings.table_name:
            dynamodb = await stack.enter_async_context(
                session.client(
                    "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config
                )
            )
            app[keys.STORE] = DynamoDBClassificationStore(dynamodb, settings.table_name)
        else:
            sqlite = await SqliteClassificationStore.open(
                settings.database_path, power_safe=settings.local_durability == "power"
            )
            stack.push_async_callback(sqlite.close)
            app[keys.STORE] = sqlite
        if settings.blob_backend == "s3" and settings.images_bucket:
            s3 = await stack.enter_async_context(
                session.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
            )
            app[keys.BLOBS] = S3BlobStore(
                s3,
                settings.images_bucket,
                sse=settings.images_sse,
                kms_key_id=settings.images_kms_key_id,
            )
        else:
            app[keys.BLOBS] = LocalBlobStore(
                settings.blob_dir, power_safe=settings.local_durability == "power"
            )
        yield


async def _http_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    timeout = aiohttp.ClientTimeout(
        total=settings.read_timeout_s, sock_connect=settings.connect_timeout_s
    )
    async with aiohttp.ClientSession(timeout=timeout) as http:
        app[keys.HTTP] = http
        yield


async def _endpoint_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    # Over the app's one aiohttp session: endpoint URL and credentials resolved here, once.
    runtime = await connect_runtime(
        app[keys.HTTP],
        region=settings.region,
        local_endpoint_url=settings.local_endpoint_url,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
    )
    app[keys.ENDPOINT] = EndpointClient(
        runtime,
        settings.endpoint_name,
        retry=RetryPolicy(
            max_attempts=settings.endpoint_max_attempts,
            base_delay=settings.retry_base_delay_s,
            max_delay=settings.retry_max_delay_s,
        ),
        breaker=CircuitBreaker(
            name="model-endpoint",
            failure_threshold=settings.breaker_failure_threshold,
            reset_timeout=settings.breaker_reset_timeout_s,
        ),
        top_k=settings.top_k,
    )
    yield


async def _model_info_ctx(app: web.Application) -> AsyncIterator[None]:
    # The endpoint describes its own model (through invoke_endpoint, as on AWS); until
    # it answers, a background task keeps asking, so start order does not matter.
    info = ModelInfo(app[keys.ENDPOINT].fetch_description)
    app[keys.MODEL_INFO] = info
    info.start()
    yield
    await info.close()


async def _service_ctx(app: web.Application) -> AsyncIterator[None]:
    service = ClassificationService(
        store=app[keys.STORE],
        blobs=app[keys.BLOBS],
        bus=app[keys.BUS],
        endpoint=app[keys.ENDPOINT],
        model_info=app[keys.MODEL_INFO],
        max_attempts=app[keys.SETTINGS].job_max_attempts,
    )
    app[keys.SERVICE] = service
    bus = app[keys.BUS]
    metrics = app[METRICS]
    subscriptions = [
        await bus.subscribe(
            CLASSIFIER_CONSUMER,
            [EventType.CLASSIFICATION_REQUESTED],
            ObservedConsumer(
                metrics, CLASSIFIER_CONSUMER, IdempotentConsumer(service.on_requested)
            ),
            concurrency=app[keys.SETTINGS].background_concurrency,
        ),
        await bus.subscribe(
            MODEL_CONSUMER,
            FANOUT_EVENT_TYPES,
            ObservedConsumer(metrics, MODEL_CONSUMER, IdempotentConsumer(service.on_model_event)),
        ),
    ]
    settings = app[keys.SETTINGS]
    async with (
        job_recovery(
            service,
            interval_s=settings.job_sweep_interval_s,
            stale_after_s=settings.job_stale_after_s,
            max_attempts=settings.job_max_attempts,
            resume_on_start=settings.job_resume_on_start,
            endpoint_ready=lambda: _endpoint_ready(app),
        ),
        retention(
            service,
            days=settings.retention_days,
            interval_s=settings.retention_sweep_interval_s,
        ),
    ):
        yield
    for subscription in subscriptions:
        await subscription.close()


async def _endpoint_ready(app: web.Application) -> bool:
    """The local model server answers `/ping` (SageMaker has no ping: assumed ready)."""
    local = app[keys.SETTINGS].local_endpoint_url
    if local is None:
        return True
    try:
        async with app[keys.HTTP].get(f"{local}/ping") as response:
            return response.status == HTTPStatus.OK
    except (aiohttp.ClientError, TimeoutError):
        return False


def create_app(settings: WasSettings, *, bus: EventBus | None = None) -> web.Application:
    """Build WAS; `bus` is the process's shared bus when several services run together."""
    app = web.Application(
        middlewares=[
            make_request_context_middleware("was"),
            metrics_middleware,
            error_middleware,
        ],
        # Multipart framing on top of the largest accepted image.
        client_max_size=settings.max_upload_bytes + 64 * 1024,
    )
    app[keys.SETTINGS] = settings
    app[keys.OPENAPI] = build_openapi(ROUTES)
    install_metrics(app, "was", settings, BUS_METRICS)
    app.cleanup_ctx.append(_bus_ctx(bus))
    app.cleanup_ctx.append(_storage_ctx)
    app.cleanup_ctx.append(_http_ctx)
    app.cleanup_ctx.append(_endpoint_ctx)
    app.cleanup_ctx.append(_model_info_ctx)
    app.cleanup_ctx.append(_service_ctx)
    server_header.install(app)
    setup_routes(app)
    return app
