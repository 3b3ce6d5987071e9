"""`EventBridgeBus` end to end against moto over HTTP: PutEvents on the bus, the stack's
rules route by detail-type into the consumers' SQS queues, long-polling consumers turn
the messages back into typed events; duplicates are dropped, failures end in the DLQ."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aioboto3
import pytest
from structlog.testing import capture_logs
from types_aiobotocore_sqs import SQSClient

from shared.contracts.classification import ClassificationStatus
from shared.contracts.events import (
    ClassificationCompleted,
    ClassificationFailed,
    ClassificationOutcome,
    ClassificationRequested,
    Event,
    EventType,
    ModelDeployed,
)
from shared.events import AwsBusConfig, EventBridgeBus, IdempotentConsumer, create_bus
from shared.events.eventbridge import EventPublishError
from shared.metrics.bus import ObservedConsumer
from shared.metrics.catalog import BUS_METRICS
from shared.metrics.recorder import Metrics
from shared.resilience import RetryPolicy
from tests.aws.conftest import MAX_RECEIVE_COUNT, REGION, BusResources
from tests.prometheus_text import value

BusFactory = Callable[..., Awaitable[EventBridgeBus]]


@pytest.fixture
async def sqs(moto_url: str) -> AsyncIterator[SQSClient]:
    async with aioboto3.Session().client(
        "sqs", region_name=REGION, endpoint_url=moto_url
    ) as client:
        yield client


@pytest.fixture
async def make_bus(bus_resources: BusResources) -> AsyncIterator[BusFactory]:
    """Started buses on the test's resources, closed at the end."""
    buses: list[EventBridgeBus] = []

    async def make(**overrides: Any) -> EventBridgeBus:
        values: dict[str, Any] = {
            "event_bus_name": bus_resources.bus_name,
            "queue_urls": bus_resources.queue_urls,
            "region": REGION,
            "endpoint_url": bus_resources.endpoint_url,
            "wait_time_s": 1,
            "retry_visibility_s": 0,
            "max_receive_count": MAX_RECEIVE_COUNT,
        }
        values.update(overrides)
        bus = create_bus("aws", aws=AwsBusConfig(**values))
        assert isinstance(bus, EventBridgeBus)
        await bus.start()
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


def requested(n: int = 1) -> Event:
    return Event(
        type=EventType.CLASSIFICATION_REQUESTED,
        source="kkot.was",
        correlation_id=f"req-{n}",
        data=ClassificationRequested(
            classification_id=f"c{n}", image_key=f"images/c{n}.jpg", content_type="image/jpeg"
        ),
    )


async def wait_for(check: Callable[[], bool], within: float = 10.0) -> None:
    """Poll `check` (state another task changes) until true, for at most `within` s."""
    async with asyncio.timeout(within):
        while True:
            if check():
                return
            await asyncio.sleep(0.05)


async def queue_depth(sqs: SQSClient, url: str) -> int:
    attrs = await sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    values = attrs["Attributes"]
    return int(values["ApproximateNumberOfMessages"]) + int(
        values["ApproximateNumberOfMessagesNotVisible"]
    )


async def test_rules_route_by_type_and_consumers_get_typed_events(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus()
    got: dict[str, list[Event]] = {"web": [], "was": []}

    async def web_handler(event: Event) -> None:
        got["web"].append(event)

    async def was_handler(event: Event) -> None:
        got["was"].append(event)

    await bus.subscribe("web", list(EventType), web_handler)
    await bus.subscribe("was", list(EventType), was_handler, concurrency=2)

    request = requested()
    failed = Event(
        type=EventType.CLASSIFICATION_FAILED,
        source="kkot.was",
        data=ClassificationFailed(classification_id="c1", error="boom", code="upstream_error"),
    )
    deployed = Event(
        type=EventType.MODEL_DEPLOYED,
        source="kkot.pipeline",
        data=ModelDeployed(model_name="flowers", model_version="v2", metrics={"accuracy": 0.9}),
    )
    foreign = Event(  # the rules take only kkot.* sources
        type=EventType.CLASSIFICATION_FAILED,
        source="other.app",
        data=ClassificationFailed(classification_id="x", error="not ours"),
    )
    for event in (request, failed, deployed, foreign):
        await bus.publish(event)

    await wait_for(lambda: len(got["web"]) == 2 and len(got["was"]) == 1)
    await asyncio.sleep(0.5)  # nothing else arrives
    # The second queue: classification.*; was (the stack's rule): classification.requested
    # only — model.deployed goes to each task's own fan-out queue, not to a work queue.
    assert sorted(e.id for e in got["web"]) == sorted([request.id, failed.id])
    assert [e.id for e in got["was"]] == [request.id]
    by_id = {e.id: e for e in got["web"] + got["was"]}
    # The typed contract survives the trip, envelope and payload.
    assert by_id[request.id] == request
    assert by_id[failed.id] == failed
    assert isinstance(by_id[failed.id].data, ClassificationFailed)
    assert deployed.id not in by_id


async def test_consumers_sharing_a_queue_get_their_types_and_unwanted_types_are_acked(
    make_bus: BusFactory, bus_resources: BusResources, sqs: SQSClient
) -> None:
    queue = bus_resources.queue_urls["web"]  # routes every classification.* event
    bus = await make_bus(queue_urls={"classifier": queue, "live": queue})
    classifier: list[Event] = []
    live: list[Event] = []

    async def on_requested(event: Event) -> None:
        classifier.append(event)

    async def on_failed(event: Event) -> None:
        live.append(event)

    await bus.subscribe("classifier", [EventType.CLASSIFICATION_REQUESTED], on_requested)
    await bus.subscribe("live", [EventType.CLASSIFICATION_FAILED], on_failed)
    await bus.publish(requested())
    await bus.publish(
        Event(
            type=EventType.CLASSIFICATION_FAILED,
            source="kkot.was",
            data=ClassificationFailed(classification_id="c1", error="boom"),
        )
    )
    # classification.completed reaches the queue (the rule) but nobody here consumes it.
    await bus.publish(
        Event(
            type=EventType.CLASSIFICATION_COMPLETED,
            source="kkot.was",
            data=ClassificationCompleted(
                outcome=ClassificationOutcome(
                    classification_id="c2",
                    status=ClassificationStatus.COMPLETED,
                    created_at=datetime.now(UTC),
                    image_url="/api/v1/classifications/c2/image",
                    content_type="image/jpeg",
                )
            ),
        )
    )
    await wait_for(lambda: len(classifier) == 1 and len(live) == 1)
    assert classifier[0].type is EventType.CLASSIFICATION_REQUESTED
    assert live[0].type is EventType.CLASSIFICATION_FAILED
    await wait_for_async(lambda: queue_depth(sqs, queue), 0)


async def wait_for_async(
    probe: Callable[[], Awaitable[int]], expected: int, within: float = 10.0
) -> None:
    """Poll `probe` (a queue's depth in moto) until it says `expected`."""
    async with asyncio.timeout(within):
        while True:
            if await probe() == expected:
                return
            await asyncio.sleep(0.1)


async def test_redelivered_events_are_handled_once_and_deleted(
    make_bus: BusFactory, bus_resources: BusResources, sqs: SQSClient
) -> None:
    bus = await make_bus()
    handled: list[str] = []

    async def handler(event: Event) -> None:
        handled.append(event.id)

    consumer = IdempotentConsumer(handler)
    await bus.subscribe("web", [EventType.CLASSIFICATION_REQUESTED], consumer)
    event = requested()
    for _ in range(3):  # at-least-once: the same event id, three messages
        await bus.publish(event)
    await wait_for(lambda: consumer.duplicates == 2)
    assert handled == [event.id]
    await wait_for_async(lambda: queue_depth(sqs, bus_resources.queue_urls["web"]), 0)


async def test_a_handler_that_keeps_failing_sends_the_event_to_the_dlq(
    make_bus: BusFactory, bus_resources: BusResources, sqs: SQSClient
) -> None:
    bus = await make_bus()
    attempts: list[str] = []

    async def broken(event: Event) -> None:
        attempts.append(event.id)
        raise RuntimeError("handler broken")

    await bus.subscribe("web", [EventType.CLASSIFICATION_REQUESTED], broken)
    event = requested()
    await bus.publish(event)

    dlq = bus_resources.dlq_urls["web"]
    async with asyncio.timeout(15):
        while True:
            response = await sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)
            if response.get("Messages"):
                break
    (message,) = response["Messages"]
    # The dead letter is the EventBridge message as delivered, holding our event.
    assert json.loads(message["Body"])["detail"]["id"] == event.id
    assert attempts == [event.id] * MAX_RECEIVE_COUNT
    (dead,) = bus.dead_letters
    assert dead.event == event
    assert dead.attempts == MAX_RECEIVE_COUNT
    assert "handler broken" in dead.error


async def test_a_consumers_metrics_count_its_tries_and_its_dead_letter(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus()
    metrics = Metrics("web", BUS_METRICS)

    async def broken(event: Event) -> None:
        raise RuntimeError("handler broken")

    await bus.subscribe(
        "web", [EventType.CLASSIFICATION_REQUESTED], ObservedConsumer(metrics, "web", broken)
    )
    await bus.publish(requested())
    await wait_for(lambda: bool(bus.dead_letters), within=15)
    text = metrics.exposition().decode()
    kind = {"consumer": "web", "event_type": "classification.requested"}
    assert value(text, "kkot_bus_dead_letters_total", kind) == 1
    tries = {**kind, "outcome": "error"}
    assert value(text, "kkot_bus_events_total", tries) == MAX_RECEIVE_COUNT
    assert value(text, "kkot_bus_delivery_lag_seconds_count", kind) == MAX_RECEIVE_COUNT


async def test_an_unreadable_message_is_left_for_the_dlq(
    make_bus: BusFactory, bus_resources: BusResources, sqs: SQSClient
) -> None:
    bus = await make_bus()
    handled: list[Event] = []

    async def handler(event: Event) -> None:
        handled.append(event)

    await bus.subscribe("web", list(EventType), handler)
    queue = bus_resources.queue_urls["web"]
    await sqs.send_message(QueueUrl=queue, MessageBody='{"detail": {"type": "nonsense"}}')
    await sqs.send_message(QueueUrl=queue, MessageBody="not json at all")
    dlq = bus_resources.dlq_urls["web"]
    await wait_for_async(lambda: queue_depth(sqs, dlq), 2, within=15)
    assert handled == []
    # A readable event after them still flows.
    await bus.publish(requested(7))
    await wait_for(lambda: len(handled) == 1)


async def test_a_slow_handler_keeps_its_message_invisible(make_bus: BusFactory) -> None:
    bus = await make_bus(visibility_timeout_s=2)
    starts: list[float] = []

    async def slow(event: Event) -> None:
        starts.append(time.monotonic())
        await asyncio.sleep(3.0)  # longer than the visibility timeout

    await bus.subscribe("web", [EventType.CLASSIFICATION_REQUESTED], slow, concurrency=2)
    await bus.publish(requested())
    await wait_for(lambda: len(starts) == 1)
    await asyncio.sleep(3.5)
    # Without the heartbeat the second worker would have received it again meanwhile.
    assert len(starts) == 1


async def test_close_stops_long_polls_promptly(make_bus: BusFactory) -> None:
    bus = await make_bus(wait_time_s=20)

    async def handler(event: Event) -> None:
        return None

    await bus.subscribe("web", list(EventType), handler, concurrency=3)
    await asyncio.sleep(0.5)  # the workers are inside their 20 s long polls
    started = time.monotonic()
    await bus.close()
    assert time.monotonic() - started < 3
    await bus.close()  # idempotent
    with pytest.raises(RuntimeError):
        await bus.publish(requested())


async def test_subscribe_needs_a_configured_queue(make_bus: BusFactory) -> None:
    bus = await make_bus()

    async def handler(event: Event) -> None:
        return None

    with pytest.raises(ValueError, match="no SQS queue URL"):
        await bus.subscribe("nobody", [EventType.CLASSIFICATION_REQUESTED], handler)
    await bus.subscribe("web", [EventType.CLASSIFICATION_REQUESTED], handler)
    with pytest.raises(ValueError, match="already subscribed"):
        await bus.subscribe("web", [EventType.CLASSIFICATION_REQUESTED], handler)


async def test_entries_eventbridge_refuses_are_retried_boundedly_then_raise(
    make_bus: BusFactory,
) -> None:
    # EventBridge (and moto) answers 200 with FailedEntryCount for an entry it refuses,
    # here one with an empty Source; the bus must not take that for success.
    bus = await make_bus(publish_retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    refused = requested().model_copy(update={"source": ""})
    with capture_logs() as logs, pytest.raises(EventPublishError, match=refused.id):
        await bus.publish(refused)
    retries = [entry for entry in logs if entry["event"] == "event_publish_retry"]
    assert [entry["attempt"] for entry in retries] == [1, 2]


async def test_events_of_a_closed_consumer_stay_queued_for_the_next_task(
    make_bus: BusFactory, bus_resources: BusResources
) -> None:
    # WAS shutting down closes its classifier before its model-info consumer; a request
    # the model-info worker receives meanwhile must survive for the next WAS task.
    was_queue = bus_resources.queue_urls["was"]
    queues = {"classifier": was_queue, "model-info": was_queue}
    old = await make_bus(queue_urls=queues, visibility_timeout_s=1)
    handled: list[Event] = []

    async def on_requested(event: Event) -> None:
        handled.append(event)

    async def on_model(event: Event) -> None:
        return None

    classifier = await old.subscribe(
        "classifier", [EventType.CLASSIFICATION_REQUESTED], on_requested
    )
    await old.subscribe("model-info", [EventType.MODEL_DEPLOYED], on_model)
    await classifier.close()
    event = requested(3)
    with capture_logs() as logs:
        await old.publish(event)
        await wait_for(lambda: any(e["event"] == "event_left_for_redelivery" for e in logs))
    await old.close()
    assert handled == []

    new = await make_bus(queue_urls=queues)
    await new.subscribe("classifier", [EventType.CLASSIFICATION_REQUESTED], on_requested)
    await wait_for(lambda: len(handled) == 1)
    assert handled == [event]
