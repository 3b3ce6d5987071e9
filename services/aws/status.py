"""`kkot aws status`: what a stage runs and serves.

Each stack's state; the SageMaker endpoint's status; the model it serves (the model
stack's ModelDataUrl and ModelImageTag, and what the artifact's object says it is:
the default model's name and version, or the model package it was released from);
the application's image tag and URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from services.aws.artifacts import METADATA_VERSION
from services.aws.deploy import DELIVERY, STAGE_STACKS, stack_name
from services.aws.release import METADATA_PACKAGE
from services.aws.stacks import describe_stack

if TYPE_CHECKING:
    import boto3

__all__ = ["StageStatus", "format_status", "stage_status"]


@dataclass
class StageStatus:
    """A stage as the AWS APIs describe it."""

    stage: str
    stacks: dict[str, str] = field(default_factory=dict)  # stack -> status (or "absent")
    endpoint: str | None = None
    endpoint_status: str | None = None
    model_data_url: str | None = None
    model_image_tag: str | None = None
    model_served: str | None = None
    image_tag: str | None = None
    url: str | None = None


def stage_status(session: boto3.Session, stage: str) -> StageStatus:
    """Read the stage's stacks, endpoint and model artifact."""
    cloudformation = session.client("cloudformation")
    status = StageStatus(stage=stage)
    for stack in (*STAGE_STACKS, DELIVERY):
        info = describe_stack(cloudformation, stack_name(stage, stack))
        status.stacks[stack] = info.status if info else "absent"
        if info is None:
            continue
        if stack == "model":
            status.model_data_url = info.parameters.get("ModelDataUrl")
            status.model_image_tag = info.parameters.get("ModelImageTag")
            status.endpoint = info.outputs.get("EndpointName")
        if stack == "application":
            status.image_tag = info.parameters.get("GatewayImageTag")
            status.url = info.outputs.get("Url")
    if status.endpoint:
        try:
            endpoint = session.client("sagemaker").describe_endpoint(EndpointName=status.endpoint)
            status.endpoint_status = endpoint["EndpointStatus"]
        except ClientError as exc:
            status.endpoint_status = f"unknown ({exc.response.get('Error', {}).get('Code')})"
    if status.model_data_url:
        status.model_served = _artifact_origin(session, status.model_data_url)
    return status


def format_status(status: StageStatus) -> list[str]:
    """The status as lines for the operator."""
    lines = [f"stage {status.stage}"]
    lines += [
        f"  stack {stack_name(status.stage, s)}: {state}" for s, state in status.stacks.items()
    ]
    if status.endpoint:
        lines.append(f"  endpoint {status.endpoint}: {status.endpoint_status}")
    if status.model_data_url:
        lines.append(
            f"  model: {status.model_served or 'unknown origin'} — {status.model_data_url}"
            f" (model image {status.model_image_tag})"
        )
    if status.image_tag:
        lines.append(f"  application images: {status.image_tag}")
    lines.append(f"  url: {status.url or 'none (no application stack)'}")
    return lines


def _artifact_origin(session: boto3.Session, url: str) -> str | None:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    try:
        head = session.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        return f"artifact unreadable ({exc.response.get('Error', {}).get('Code')})"
    metadata = head.get("Metadata", {})
    if METADATA_PACKAGE in metadata:
        return f"model package {metadata[METADATA_PACKAGE]}"
    return metadata.get(METADATA_VERSION)
