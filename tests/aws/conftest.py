"""Fixtures for the AWS adapter tests: ONE moto server per session, as a subprocess on a
free port (real HTTP, real aioboto3 client), and per-test resources made from the
generated data-and-events template, so the adapters meet the table, bucket, bus, queue
and rule definitions the stack really creates (drift fails these tests)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import pytest

from cfn.render import render
from cfn.stacks.data import CONSUMERS, Consumer, build_data_and_events
from tests.moto_server import CREDENTIALS, REGION, moto_server
from tests.was.conftest import model_server_url  # noqa: F401  (the real model server)

_SECOND_WORK_QUEUE = Consumer("web", "Web", ({"prefix": "classification."},))
# The stack's MaxReceiveCount parameter (1..20); 2 keeps the dead-letter test short.
MAX_RECEIVE_COUNT = 2


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """The URL of a moto server started for this session; dummy credentials in the env."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in CREDENTIALS.items():
            env.setenv(name, value)
        with moto_server() as url:
            yield url


@pytest.fixture(scope="session")
def data_template() -> dict[str, Any]:
    """The generated data-and-events template, as the deploy would read it."""
    parsed: dict[str, Any] = json.loads(render(build_data_and_events(), "json"))
    return parsed


@dataclass(frozen=True)
class BusResources:
    """One test's event bus and, per consumer, its queue and dead-letter queue."""

    endpoint_url: str
    bus_name: str
    queue_urls: dict[str, str]  # consumer -> queue URL
    dlq_urls: dict[str, str]  # consumer -> dead-letter queue URL


def _props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return props


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
async def bucket(moto_url: str) -> str:
    """A fresh images bucket."""
    name = f"kkot-test-images-{_suffix()}"
    async with aioboto3.Session().client("s3", region_name=REGION, endpoint_url=moto_url) as s3:
        await s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
async def table_name(moto_url: str, data_template: dict[str, Any]) -> str:
    """A fresh classifications table with the stack's keys, GSI and billing mode."""
    table = _props(data_template, "ClassificationsTable")
    name = f"kkot-test-classifications-{_suffix()}"
    async with aioboto3.Session().client(
        "dynamodb", region_name=REGION, endpoint_url=moto_url
    ) as dynamodb:
        await dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
            BillingMode=table["BillingMode"],
        )
    return name


@pytest.fixture
async def bus_resources(moto_url: str, data_template: dict[str, Any]) -> BusResources:
    """A fresh bus with the stack's consumer queues, dead-letter queues and rules."""
    suffix = _suffix()
    session = aioboto3.Session()
    async with (
        session.client("events", region_name=REGION, endpoint_url=moto_url) as events,
        session.client("sqs", region_name=REGION, endpoint_url=moto_url) as sqs,
    ):
        bus_name = f"kkot-test-events-{suffix}"
        assert _props(data_template, "EventBus")["Name"]  # the stack names its bus
        await events.create_event_bus(Name=bus_name)
        queue_urls: dict[str, str] = {}
        dlq_urls: dict[str, str] = {}
        for consumer in (*CONSUMERS, _SECOND_WORK_QUEUE):
            # The stack has one work queue (was); the bus tests need a second consumer,
            # shaped exactly like it but routing every classification event.
            logical = consumer.logical if consumer in CONSUMERS else CONSUMERS[0].logical
            queue = _props(data_template, f"{logical}Queue")
            rule = dict(_props(data_template, f"{logical}EventsRule"))
            if consumer not in CONSUMERS:
                rule["EventPattern"] = {
                    **rule["EventPattern"],
                    "detail-type": [{"prefix": "classification."}],
                }
            dlq_url = (await sqs.create_queue(QueueName=f"{consumer.name}-dlq-{suffix}"))[
                "QueueUrl"
            ]
            dlq_arn = (
                await sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
            )["Attributes"]["QueueArn"]
            redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            url = (
                await sqs.create_queue(
                    QueueName=f"{consumer.name}-{suffix}",
                    Attributes={
                        "VisibilityTimeout": str(queue["VisibilityTimeout"]),
                        "ReceiveMessageWaitTimeSeconds": str(
                            queue["ReceiveMessageWaitTimeSeconds"]
                        ),
                        "RedrivePolicy": json.dumps(redrive),
                    },
                )
            )["QueueUrl"]
            arn = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))[
                "Attributes"
            ]["QueueArn"]
            rule_name = f"{consumer.name}-{suffix}"
            await events.put_rule(
                Name=rule_name,
                EventBusName=bus_name,
                EventPattern=json.dumps(rule["EventPattern"]),
                State=rule["State"],
            )
            (target,) = rule["Targets"]
            await events.put_targets(
                Rule=rule_name,
                EventBusName=bus_name,
                Targets=[
                    {
                        "Id": target["Id"],
                        "Arn": arn,
                        "RetryPolicy": target["RetryPolicy"],
                        "DeadLetterConfig": {"Arn": dlq_arn},
                    }
                ],
            )
            queue_urls[consumer.name] = url
            dlq_urls[consumer.name] = dlq_url
    return BusResources(moto_url, bus_name, queue_urls, dlq_urls)
