"""`EventBridgeBus`: the AWS backend of `EventBus` — EventBridge in, one SQS queue per
consuming service out (the layout `cfn/stacks/data.py` creates).

publish    `PutEvents` on the bus: Source = `event.source`, DetailType = `event.type`,
           Detail = the envelope JSON. Entries EventBridge reports as failed are
           retried a bounded number of times, then `EventPublishError`.
subscribe  `concurrency` long-polling workers on the consumer's queue (its URL comes
           from `queue_urls[consumer]`). Each worker receives one message at a time,
           unwraps the EventBridge envelope back into the `Event` contract, runs the
           handler(s) and deletes the message only when they succeeded. A slow handler
           keeps its message invisible (heartbeat on the visibility timeout); a failed
           one makes it visible again after `retry_visibility_s`, and after the queue's
           `maxReceiveCount` receives SQS's redrive policy moves it to the dead-letter
           queue. A message that is not a readable event is logged and left alone, so
           it ends in the dead-letter queue the same way.

Several consumers may share one queue (WAS's two consumers read the `was` queue): a
message goes to every consumer on the queue subscribed to its type, and one whose type
none of them wants is deleted (the rule routes a service's every type to its queue).
One for a consumer that was closed (shutdown) is left for redelivery instead.
Subscribe all consumers of a queue before awaiting anything else, so that no worker
receives before every route exists.

Delivery is at-least-once: handlers must be idempotent (`IdempotentConsumer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aioboto3
import structlog
from pydantic import ValidationError

from shared.aws_config import AwsClientConfig
from shared.contracts.events import Event, EventType
from shared.events.bus import DeadLetter, EventHandler, tell_dead_letter
from shared.resilience import RetryPolicy

if TYPE_CHECKING:
    from types_aiobotocore_events import EventBridgeClient
    from types_aiobotocore_events.type_defs import PutEventsRequestEntryTypeDef
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

__all__ = ["AwsBusConfig", "EventBridgeBus", "EventPublishError", "SqsSubscription"]

_log = structlog.get_logger("kkot.events")
_MAX_DEAD_LETTERS = 1000


class EventPublishError(RuntimeError):
    """EventBridge did not accept an event after the bounded retries."""


@dataclass(frozen=True)
class AwsBusConfig:
    """Where the bus and the queues are, and how consumers poll them."""

    event_bus_name: str
    # Consumer name -> SQS queue URL (several consumers may share a queue).
    queue_urls: Mapping[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    # Only for an emulator (moto, localstack); None means the real AWS endpoints.
    endpoint_url: str | None = None
    wait_time_s: int = 20
    visibility_timeout_s: int = 60
    retry_visibility_s: int = 5
    # The queue's redrive maxReceiveCount (cfn MaxReceiveCount), to know the last try.
    max_receive_count: int = 5
    # Connections per client: above the total number of workers of this process.
    max_connections: int = 100
    publish_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=2.0)
    )


def _entry(bus_name: str, event: Event) -> PutEventsRequestEntryTypeDef:
    return {
        "EventBusName": bus_name,
        "Source": event.source,
        "DetailType": event.type.value,
        "Detail": event.model_dump_json(),
        "Time": event.time,
    }


def parse_message(body: str) -> Event:
    """The `Event` inside an SQS message EventBridge delivered; raises ValueError."""
    wrapped = json.loads(body)
    if not isinstance(wrapped, dict) or not isinstance(wrapped.get("detail"), dict):
        raise ValueError("not an EventBridge event")
    return Event.model_validate(wrapped["detail"])


@dataclass
class _Route:
    consumer: str
    event_types: frozenset[EventType]
    handler: EventHandler
    # A closed consumer keeps its route so that its events are left in the queue (for
    # another task, or this one restarted), not taken for types nobody consumes.
    closed: bool = False


class SqsSubscription:
    """One consumer: its route on the queue and its polling workers."""

    def __init__(self, bus: EventBridgeBus, route: _Route, queue_url: str, workers: int) -> None:
        self.consumer = route.consumer
        self.queue_url = queue_url
        self._bus = bus
        self._route = route
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._polling: set[asyncio.Task[None]] = set()
        self._stopping = False

    def start(self) -> None:
        if not self._tasks:
            self._stopping = False
            self._tasks = [
                asyncio.create_task(self._run(), name=f"sqs-consumer-{self.consumer}-{n}")
                for n in range(self._workers)
            ]

    async def close(self, grace_s: float = 10.0) -> None:
        """Stop polling; a handler already running may finish (its message is then
        deleted) within `grace_s`, else it is cancelled and the message redelivered."""
        self._stopping = True
        self._bus._forget(self)
        for task in self._polling:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks = []

    async def _run(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        failures = 0
        while not self._stopping:
            self._polling.add(task)
            try:
                messages = await self._bus._receive(self.queue_url)
                failures = 0
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except Exception as exc:
                # Network trouble or throttling: back off (bounded) and poll again.
                failures += 1
                pause = min(30.0, 0.5 * 2 ** min(failures, 6))
                _log.warning("sqs_receive_failed", queue=self.queue_url, error=repr(exc))
                await asyncio.sleep(pause)
                continue
            finally:
                self._polling.discard(task)
            for message in messages:
                try:
                    await self._bus._handle(self.queue_url, message)
                except Exception as exc:
                    # e.g. the delete failed: the message comes back, handlers are idempotent.
                    _log.warning("sqs_message_handling_failed", error=repr(exc))


class EventBridgeBus:
    """Publish with EventBridge `PutEvents`; consume from SQS with long polling."""

    def __init__(self, config: AwsBusConfig, *, session: aioboto3.Session | None = None) -> None:
        self.config = config
        self._session = session or aioboto3.Session()
        self._stack: contextlib.AsyncExitStack | None = None
        self._events: EventBridgeClient | None = None
        self._sqs: SQSClient | None = None
        self._subscriptions: dict[str, SqsSubscription] = {}
        self._routes: dict[str, dict[str, _Route]] = {}
        self._dead: list[DeadLetter] = []

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Events a consumer of this process failed on at the queue's last receive (SQS
        has moved or will move them to the dead-letter queue), oldest first."""
        return list(self._dead)

    async def start(self) -> None:
        """Open the EventBridge and SQS clients and start subscribed consumers."""
        if self._stack is None:
            stack = contextlib.AsyncExitStack()
            # Long polls hold the connection for wait_time_s: the read timeout must outlast it.
            config = AwsClientConfig(
                connect_timeout_s=5,
                read_timeout_s=self.config.wait_time_s + 10,
                # Every worker's long poll holds a connection; deletes and visibility
                # changes must not queue behind them (consumers subscribe after start).
                max_pool_connections=self.config.max_connections,
            ).for_aioboto3()
            kwargs: dict[str, Any] = {
                "region_name": self.config.region,
                "endpoint_url": self.config.endpoint_url,
                "config": config,
            }
            try:
                self._events = await stack.enter_async_context(
                    self._session.client("events", **kwargs)
                )
                self._sqs = await stack.enter_async_context(self._session.client("sqs", **kwargs))
            except BaseException:
                await stack.aclose()
                raise
            self._stack = stack
        for subscription in self._all():
            subscription.start()

    async def close(self) -> None:
        """Stop every consumer, then close the clients (idempotent)."""
        await asyncio.gather(*(s.close() for s in self._all()))
        if self._stack is not None:
            stack, self._stack = self._stack, None
            self._events = self._sqs = None
            await stack.aclose()

    def _all(self) -> list[SqsSubscription]:
        return list(self._subscriptions.values())

    async def publish(self, event: Event) -> None:
        """Put `event` on the bus; retries entries EventBridge failed, boundedly."""
        if self._events is None:
            raise RuntimeError("the bus is not started")
        policy = self.config.publish_retry
        entries = [_entry(self.config.event_bus_name, event)]
        for attempt in range(1, policy.max_attempts + 1):
            response = await self._events.put_events(Entries=entries)
            if not response.get("FailedEntryCount"):
                return
            results = response.get("Entries", [])
            failed = [
                (entry, result)
                for entry, result in zip(entries, results, strict=False)
                if result.get("ErrorCode")
            ]
            entries = [entry for entry, _ in failed] or entries
            errors = sorted({str(result.get("ErrorCode")) for _, result in failed})
            if attempt >= policy.max_attempts:
                raise EventPublishError(
                    f"EventBridge refused event {event.id} ({event.type}): {', '.join(errors)}"
                )
            pause = policy.delay(attempt)
            _log.warning(
                "event_publish_retry",
                event_id=event.id,
                event_type=event.type,
                attempt=attempt,
                errors=errors,
                pause_s=round(pause, 3),
            )
            await asyncio.sleep(pause)

    async def subscribe(
        self,
        consumer: str,
        event_types: Iterable[EventType],
        handler: EventHandler,
        *,
        concurrency: int = 1,
    ) -> SqsSubscription:
        """Poll the consumer's queue with `concurrency` workers, delivering `event_types`."""
        if consumer in self._subscriptions:
            raise ValueError(f"consumer {consumer!r} is already subscribed")
        queue_url = self.config.queue_urls.get(consumer)
        if not queue_url:
            raise ValueError(f"no SQS queue URL configured for consumer {consumer!r}")
        types = frozenset(event_types)
        if not types:
            raise ValueError("subscribe to at least one event type")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        workers = sum(s._workers for s in self._all()) + concurrency
        if workers >= self.config.max_connections:
            raise ValueError(f"{workers} polling workers need more than max_connections")
        route = _Route(consumer, types, handler)
        self._routes.setdefault(queue_url, {})[consumer] = route
        subscription = SqsSubscription(self, route, queue_url, concurrency)
        self._subscriptions[consumer] = subscription
        if self._stack is not None:
            subscription.start()
        return subscription

    def _forget(self, subscription: SqsSubscription) -> None:
        if self._subscriptions.get(subscription.consumer) is subscription:
            del self._subscriptions[subscription.consumer]
            route = self._routes.get(subscription.queue_url, {}).get(subscription.consumer)
            if route is not None:
                route.closed = True

    async def _receive(self, queue_url: str) -> list[MessageTypeDef]:
        assert self._sqs is not None
        response = await self._sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=self.config.wait_time_s,
            VisibilityTimeout=self.config.visibility_timeout_s,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return response.get("Messages", [])

    async def _handle(self, queue_url: str, message: MessageTypeDef) -> None:
        assert self._sqs is not None
        receipt = message["ReceiptHandle"]
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            event = parse_message(message.get("Body", ""))
        except (ValueError, ValidationError) as exc:
            # Left in the queue: after maxReceiveCount receives, the DLQ keeps it for a look.
            _log.error(
                "event_unreadable",
                queue=queue_url,
                message_id=message.get("MessageId"),
                receives=receives,
                error=str(exc)[:300],
            )
            await self._retry_soon(queue_url, receipt)
            return
        on_queue = self._routes.get(queue_url, {}).values()
        routes = [r for r in on_queue if event.type in r.event_types]
        if not routes:
            _log.debug("event_not_consumed_here", event_id=event.id, event_type=event.type)
            await self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
            return
        if any(r.closed for r in routes):
            # Its consumer here is shutting down: untouched, the message comes back after
            # the visibility timeout, to whichever task polls then.
            _log.info("event_left_for_redelivery", event_id=event.id, event_type=event.type)
            return
        heartbeat = asyncio.create_task(self._keep_invisible(queue_url, receipt))
        try:
            results = await asyncio.gather(
                *(r.handler(event) for r in routes), return_exceptions=True
            )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        errors = [r for r in results if isinstance(r, BaseException)]
        if not errors:
            await self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
            return
        consumers = ",".join(r.consumer for r in routes)
        if receives >= self.config.max_receive_count:
            _log.error(
                "event_dead_lettered",
                consumer=consumers,
                event_id=event.id,
                event_type=event.type,
                attempts=receives,
                error=repr(errors[0]),
            )
            for route, result in zip(routes, results, strict=True):
                if isinstance(result, BaseException):
                    dead = DeadLetter(
                        route.consumer, event, repr(result), receives, datetime.now(UTC)
                    )
                    tell_dead_letter(route.handler, dead)
            self._dead.append(
                DeadLetter(consumers, event, repr(errors[0]), receives, datetime.now(UTC))
            )
            del self._dead[:-_MAX_DEAD_LETTERS]
        else:
            _log.warning(
                "event_handler_retry",
                consumer=consumers,
                event_id=event.id,
                event_type=event.type,
                attempt=receives,
                error=repr(errors[0]),
            )
        await self._retry_soon(queue_url, receipt)

    async def _retry_soon(self, queue_url: str, receipt: str) -> None:
        """Make a message visible again after `retry_visibility_s`, not after the whole
        visibility timeout (so it reaches a retry, or the DLQ, sooner)."""
        assert self._sqs is not None
        try:
            await self._sqs.change_message_visibility(
                QueueUrl=queue_url,
                ReceiptHandle=receipt,
                VisibilityTimeout=self.config.retry_visibility_s,
            )
        except Exception as exc:
            _log.warning("sqs_visibility_change_failed", error=repr(exc))

    async def _keep_invisible(self, queue_url: str, receipt: str) -> None:
        """Extend the message's visibility while its handler runs."""
        assert self._sqs is not None
        timeout = self.config.visibility_timeout_s
        while True:
            await asyncio.sleep(max(1.0, timeout / 2))
            try:
                await self._sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=timeout
                )
            except Exception as exc:
                _log.warning("sqs_visibility_extension_failed", error=repr(exc))
                return
