"""Create the stage's data-and-events stack in the emulator, and check it is there.

The template is the one `generate-templates` writes, prepared for moto
(`services.emulator.prepare`) and deployed through a CloudFormation change set by the
same `deploy_stack` the AWS commands use.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cfn.render import render
from cfn.stacks.data import build_data_and_events
from services.aws.errors import AwsCommandError
from services.aws.stacks import SUCCEEDED, Waiting, deploy_stack, describe_stack
from services.emulator.prepare import prepare_for_moto
from services.emulator.resources import DUMMY_CREDENTIALS, EmulatedStage
from services.emulator.server import EmulatorFailed

__all__ = ["is_provisioned", "provision"]

_CONFIG = Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 2})


def _client(stage: EmulatedStage, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=stage.url,
        region_name=stage.region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=_CONFIG,
    )


def provision(stage: EmulatedStage, report: Any = None) -> None:
    """Deploy the prepared data-and-events template for `stage`; EmulatorFailed if not."""
    template = prepare_for_moto(json.loads(render(build_data_and_events(), "json")), stage.stage)
    try:
        deploy_stack(
            _client(stage, "cloudformation"),
            stage.stack_name,
            template_body=json.dumps(template),
            parameters={"Stage": stage.stage},
            waiting=Waiting(poll_seconds=0.2, timeout_seconds=120),
            **({"report": report} if report else {}),
        )
    except (AwsCommandError, ClientError, BotoCoreError) as exc:
        raise EmulatorFailed(f"creating {stage.stack_name} in the emulator failed: {exc}") from exc
    if not is_provisioned(stage):
        raise EmulatorFailed(f"{stage.stack_name} is deployed but its resources are missing")


def is_provisioned(stage: EmulatedStage) -> bool:
    """The stack settled and the table, bucket, bus and work queue the services use exist."""
    try:
        stack = describe_stack(_client(stage, "cloudformation"), stage.stack_name)
        if stack is None or stack.status not in SUCCEEDED:
            return False
        _client(stage, "dynamodb").describe_table(TableName=stage.table_name)
        _client(stage, "s3").head_bucket(Bucket=stage.images_bucket)
        _client(stage, "events").describe_event_bus(Name=stage.event_bus_name)
        _client(stage, "sqs").get_queue_attributes(
            QueueUrl=stage.was_queue_url, AttributeNames=["QueueArn"]
        )
    except (ClientError, BotoCoreError):
        return False
    return True
