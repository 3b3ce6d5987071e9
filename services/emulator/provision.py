"""Create the stage's data-and-events stack in the emulator, and check it is there.

The template is the one `generate-templates` writes, prepared for moto
(`services.emulator.prepare`) and deployed through a CloudFormation change set by the
same `deploy_stack` the AWS commands use.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cfn.render import render
from cfn.stacks.data import build_data_and_events
from services.aws.errors import AwsCommandError
from services.aws.stacks import SUCCEEDED, Waiting, deploy_stack, describe_stack
from services.emulator.prepare import prepare_for_moto
from services.emulator.resources import EmulatedStage
from services.emulator.server import EmulatorFailed

__all__ = ["is_provisioned", "provision"]


def provision(stage: EmulatedStage, report: Any = None) -> None:
    """Deploy the prepared data-and-events template for `stage`; EmulatorFailed if not."""
    template = render(build_data_and_events(), "json")
    try:
        deploy_stack(
            stage.client("cloudformation"),
            stage.stack_name,
            template_body=prepare_for_moto(template, bucket_names=stage.bucket_names),
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
        stack = describe_stack(stage.client("cloudformation"), stage.stack_name)
        if stack is None or stack.status not in SUCCEEDED:
            return False
        stage.client("dynamodb").describe_table(TableName=stage.table_name)
        stage.client("s3").head_bucket(Bucket=stage.images_bucket)
        stage.client("events").describe_event_bus(Name=stage.event_bus_name)
        stage.client("sqs").get_queue_attributes(
            QueueUrl=stage.was_queue_url, AttributeNames=["QueueArn"]
        )
    except (ClientError, BotoCoreError):
        return False
    return True
