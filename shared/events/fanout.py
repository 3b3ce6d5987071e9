"""A queue of this task's own: how an event reaches EVERY task of a service on AWS.

An SQS queue hands each message to one receiver, which is right for work (the `was`
queue: one task runs each background job) and wrong for news that every task must
hear: a deploy (each WAS task re-describes the endpoint) and a finished classification
(each web task pushes it to the browsers connected to it). ECS tasks come and go, so
the template cannot name one queue per task. Instead each task, at start, creates

    queue  <bus>-fanout-<consumer>-<task id>   (SSE-SQS, 5-minute retention)
    rule   the same name, on the stage's bus, matching the consumer's event types,
           targeting the queue; the queue policy lets only that rule send

and deletes both at stop. A task killed without a clean stop leaves them behind: each
queue carries an `expires-at` tag that its owner pushes forward every minute, and
every task starting sweeps the fan-out queues (and rules) of its bus whose tag is in
the past. Names are prefixed `<bus>-fanout-` so IAM can scope the permissions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aioboto3
import structlog

from shared.aws_config import AwsClientConfig
from shared.contracts.events import EventType

__all__ = ["FanoutConfig", "fanout_prefix", "task_queue"]

_log = structlog.get_logger("kkot.events.fanout")
_EXPIRES_TAG = "kkot-fanout-expires-at"
_RETENTION_S = 300
_LEASE_S = 300
_RENEW_S = 60


@dataclass(frozen=True)
class FanoutConfig:
    """Where the bus is; the consumer's name goes into the queue's name."""

    event_bus_name: str
    region: str = "us-east-1"
    endpoint_url: str | None = None


def fanout_prefix(event_bus_name: str) -> str:
    """The name prefix of every fan-out queue and rule of a bus (IAM scopes on it)."""
    return f"{event_bus_name}-fanout-"


@contextlib.asynccontextmanager
async def task_queue(
    config: FanoutConfig,
    consumer: str,
    event_types: Iterable[EventType],
    *,
    session: aioboto3.Session | None = None,
) -> AsyncIterator[str]:
    """Create this task's queue and rule for `event_types`; yield the queue URL;
    delete both on exit."""
    name = f"{fanout_prefix(config.event_bus_name)}{consumer}-{uuid.uuid4().hex[:12]}"
    kwargs: dict[str, Any] = {
        "region_name": config.region,
        "endpoint_url": config.endpoint_url,
        "config": AwsClientConfig().for_aioboto3(),
    }
    session = session or aioboto3.Session()
    async with (
        session.client("events", **kwargs) as events,
        session.client("sqs", **kwargs) as sqs,
    ):
        await _sweep_expired(events, sqs, config.event_bus_name)
        url = await _create(events, sqs, config.event_bus_name, name, sorted(event_types))
        renewer = asyncio.create_task(_renew(sqs, url), name=f"fanout-lease-{name}")
        try:
            yield url
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await _delete(events, sqs, config.event_bus_name, name, url)


async def _create(events: Any, sqs: Any, bus: str, name: str, event_types: list[EventType]) -> str:
    pattern = {"source": [{"prefix": "kkot."}], "detail-type": [t.value for t in event_types]}
    rule_arn = (
        await events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(pattern),
            State="ENABLED",
            Description="kkot: this task's copy of the events it must hear",
        )
    )["RuleArn"]
    url: str = (
        await sqs.create_queue(
            QueueName=name,
            Attributes={
                "MessageRetentionPeriod": str(_RETENTION_S),
                "ReceiveMessageWaitTimeSeconds": "20",
                "SqsManagedSseEnabled": "true",
            },
            tags={_EXPIRES_TAG: str(int(time.time()) + _LEASE_S)},
        )
    )["QueueUrl"]
    arn = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyThisTasksRuleSends",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    await sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    await events.put_targets(
        Rule=name, EventBusName=bus, Targets=[{"Id": "task-queue", "Arn": arn}]
    )
    _log.info("fanout_queue_created", queue=name, event_types=[t.value for t in event_types])
    return url


async def _delete(events: Any, sqs: Any, bus: str, name: str, url: str) -> None:
    """Remove the rule (first, so nothing more is sent) and the queue; best effort."""
    steps: list[tuple[Callable[..., Awaitable[Any]], dict[str, Any]]] = [
        (events.remove_targets, {"Rule": name, "EventBusName": bus, "Ids": ["task-queue"]}),
        (events.delete_rule, {"Name": name, "EventBusName": bus}),
        (sqs.delete_queue, {"QueueUrl": url}),
    ]
    for call, arguments in steps:
        try:
            await call(**arguments)
        except Exception as exc:
            _log.warning("fanout_cleanup_failed", queue=name, error=repr(exc))
    _log.info("fanout_queue_deleted", queue=name)


async def _renew(sqs: Any, url: str) -> None:
    """Keep pushing the queue's expiry forward while this task lives."""
    while True:
        await asyncio.sleep(_RENEW_S)
        try:
            await sqs.tag_queue(QueueUrl=url, Tags={_EXPIRES_TAG: str(int(time.time()) + _LEASE_S)})
        except Exception as exc:
            _log.warning("fanout_lease_renewal_failed", error=repr(exc))


async def _sweep_expired(events: Any, sqs: Any, bus: str) -> None:
    """Delete fan-out queues (and their rules) of tasks that died without cleaning up."""
    prefix = fanout_prefix(bus)
    try:
        urls = (await sqs.list_queues(QueueNamePrefix=prefix)).get("QueueUrls", [])
        now = time.time()
        for url in urls:
            tags = (await sqs.list_queue_tags(QueueUrl=url)).get("Tags", {})
            expires = tags.get(_EXPIRES_TAG)
            if expires is not None and expires.isdigit() and int(expires) < now:
                await _delete(events, sqs, bus, url.rsplit("/", 1)[-1], url)
    except Exception as exc:  # a sweep is housekeeping: never stop a task starting
        _log.warning("fanout_sweep_failed", error=repr(exc))
