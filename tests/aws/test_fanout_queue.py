"""A task's own fan-out queue: made with its rule at start, fed by the bus, removed at
stop; and the queues a killed task left behind are swept by the next task to start."""

from __future__ import annotations

import json
import time

import aioboto3

from shared.contracts.events import Event, EventType, ModelDeployed
from shared.events import FanoutConfig, fanout_prefix, task_queue
from tests.aws.conftest import REGION, BusResources


async def test_a_task_queue_hears_its_types_and_is_removed_at_stop(
    bus_resources: BusResources,
) -> None:
    config = FanoutConfig(bus_resources.bus_name, REGION, bus_resources.endpoint_url)
    session = aioboto3.Session()
    kwargs = {"region_name": REGION, "endpoint_url": bus_resources.endpoint_url}
    async with session.client("sqs", **kwargs) as sqs, session.client("events", **kwargs) as events:
        async with task_queue(config, "was", [EventType.MODEL_DEPLOYED]) as url:
            event = Event(
                type=EventType.MODEL_DEPLOYED,
                source="kkot.pipeline",
                data=ModelDeployed(model_name="m", model_version="v9"),
            )
            await events.put_events(
                Entries=[
                    {
                        "EventBusName": bus_resources.bus_name,
                        "Source": event.source,
                        "DetailType": event.type.value,
                        "Detail": event.model_dump_json(),
                    }
                ]
            )
            got = await sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
            (message,) = got["Messages"]
            assert Event.model_validate(json.loads(message["Body"])["detail"]) == event
        prefix = fanout_prefix(bus_resources.bus_name)
        assert not (await sqs.list_queues(QueueNamePrefix=prefix)).get("QueueUrls")
        rules = await events.list_rules(EventBusName=bus_resources.bus_name, NamePrefix=prefix)
        assert rules["Rules"] == []


async def test_queues_left_by_a_killed_task_are_swept_when_another_starts(
    bus_resources: BusResources,
) -> None:
    config = FanoutConfig(bus_resources.bus_name, REGION, bus_resources.endpoint_url)
    prefix = fanout_prefix(bus_resources.bus_name)
    session = aioboto3.Session()
    kwargs = {"region_name": REGION, "endpoint_url": bus_resources.endpoint_url}
    async with session.client("sqs", **kwargs) as sqs, session.client("events", **kwargs) as events:
        # What a task killed an hour ago left: its queue (lease long expired) and rule.
        dead = f"{prefix}web-deadbeef0000"
        await events.put_rule(
            Name=dead,
            EventBusName=bus_resources.bus_name,
            EventPattern=json.dumps({"source": [{"prefix": "kkot."}]}),
        )
        await sqs.create_queue(
            QueueName=dead, tags={"kkot-fanout-expires-at": str(int(time.time()) - 3600)}
        )
        # A live task's queue whose lease runs: left alone.
        async with (
            task_queue(config, "web", [EventType.CLASSIFICATION_COMPLETED]) as alive,
            task_queue(config, "was", [EventType.MODEL_DEPLOYED]) as newcomer,
        ):
            names = {
                url.rsplit("/", 1)[-1]
                for url in (await sqs.list_queues(QueueNamePrefix=prefix))["QueueUrls"]
            }
            assert names == {alive.rsplit("/", 1)[-1], newcomer.rsplit("/", 1)[-1]}
            rules = await events.list_rules(EventBusName=bus_resources.bus_name, NamePrefix=prefix)
            assert dead not in {rule["Name"] for rule in rules["Rules"]}
