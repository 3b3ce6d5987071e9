"""`kkot aws deploy`: one stage, in order, from templates generated in-process.

    network -> data-and-events -> (training data, model artifact, images)
            -> model -> application -> (delivery, with --delivery)

Each stack goes through `deploy_stack` (a change set with the capabilities its template
needs). Parameters not given keep their current value on an existing stack, so a second
run with nothing changed changes nothing. Once the model stack exists, the model it
serves belongs to `kkot release model`: a deploy keeps it unless --model-dir is given.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services.aws.artifacts import DATASET_PREFIX, pack_model, sync_dataset, upload_model
from services.aws.console import Report, say
from services.aws.errors import AwsCommandError
from services.aws.images import (
    TAG_PATTERN,
    build_and_push,
    head_commit,
    missing_images,
    repository_name,
)
from services.aws.stacks import StackInfo, Waiting, deploy_stack, describe_stack
from services.aws.templates import template_bodies
from services.images import IMAGES

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client

__all__ = ["DeployOptions", "StageDeployment", "deploy_stage", "stack_name", "stack_output"]

STAGE_STACKS = ("network", "data-and-events", "model", "application")
DELIVERY = "delivery"
APP_IMAGES = tuple(i.name for i in IMAGES if i.deployed_by_ecs)


def stack_name(stage: str, stack: str) -> str:
    """`kkot-<stage>-<stack>`, the name cfn/naming.py gives the stack."""
    from cfn.naming import stack_name as cfn_stack_name

    return cfn_stack_name(stage, stack)


def stack_output(stack: StackInfo, key: str) -> str:
    """Output `key` of `stack`; a clear error when the stack does not export it."""
    if key not in stack.outputs:
        raise AwsCommandError(f"{stack.name} has no output {key}: deploy the stage again")
    return stack.outputs[key]


@dataclass(frozen=True)
class DeployOptions:
    """What `kkot aws deploy` was asked to do."""

    stage: str
    image_tag: str | None = None
    build_images: bool = False
    model_dir: Path | None = None
    model_dir_explicit: bool = False
    data_dir: Path | None = None
    certificate_arn: str | None = None
    alarm_email: str | None = None
    delivery: bool = False
    delivery_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass
class StageDeployment:
    """What a deploy did, stack by stack and upload by upload."""

    stage: str
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    url: str | None = None

    @property
    def anything_changed(self) -> bool:
        return bool(self.changed)


def deploy_stage(
    session: boto3.Session,
    options: DeployOptions,
    report: Report = say,
    waiting: Waiting | None = None,
) -> StageDeployment:
    """Deploy every stack of `options.stage` (and delivery when asked); see the module."""
    cloudformation = session.client("cloudformation")
    stage = options.stage
    # Everything that can be refused is refused before the first stack changes.
    model_stack = describe_stack(cloudformation, stack_name(stage, "model"))
    app_stack = describe_stack(cloudformation, stack_name(stage, "application"))
    _check_options(cloudformation, options, first_deploy=model_stack is None or app_stack is None)
    sets_model = model_stack is None or options.model_dir_explicit
    result = StageDeployment(stage=stage)
    bodies = template_bodies()

    def deploy(stack: str, parameters: dict[str, str]) -> StackInfo:
        outcome = deploy_stack(
            cloudformation,
            stack_name(stage, stack),
            template_body=bodies[stack],
            parameters={"Stage": stage, **parameters},
            report=report,
            waiting=waiting,
        )
        (result.changed if outcome.changed else result.unchanged).append(stack)
        return outcome.stack

    deploy("network", {})
    data = deploy("data-and-events", {})
    store = _ModelsBucket(
        s3=session.client("s3"),
        bucket=stack_output(data, "ModelsBucketName"),
        key_arn=stack_output(data, "DataKeyArn"),
    )
    _upload_training_data(store, options.data_dir, result, report)
    # The model a new stack starts with; afterwards `kkot release model` owns it.
    model_parameters = _upload_model(store, options.model_dir, result, report) if sets_model else {}

    tag = options.image_tag
    if options.build_images:
        tag = tag or head_commit()
        build_and_push(session.client("ecr"), stage, tag, report)
    if tag is not None:
        _require_images(session, stage, [*APP_IMAGES, *(["model"] if sets_model else [])], tag)
        if sets_model:
            model_parameters["ModelImageTag"] = tag

    model = deploy("model", model_parameters)
    app_parameters = {f"{image.capitalize()}ImageTag": tag for image in APP_IMAGES if tag}
    if options.certificate_arn is not None:
        app_parameters["CertificateArn"] = options.certificate_arn
    if options.alarm_email is not None:
        app_parameters["AlarmEmail"] = options.alarm_email
    result.url = deploy("application", app_parameters).outputs.get("Url")
    if options.delivery:
        deploy(DELIVERY, dict(options.delivery_parameters))
    report(
        f"{stage} serves {model.parameters.get('ModelDataUrl')} "
        f"(model image {model.parameters.get('ModelImageTag')})"
    )
    return result


@dataclass(frozen=True)
class _ModelsBucket:
    s3: S3Client
    bucket: str
    key_arn: str


def _check_options(
    cloudformation: CloudFormationClient, options: DeployOptions, first_deploy: bool
) -> None:
    if options.build_images and shutil.which("docker") is None:
        raise AwsCommandError(
            "--build-images needs docker on PATH; or push the images and pass --image-tag"
        )
    if first_deploy and options.image_tag is None and not options.build_images:
        raise AwsCommandError("the first deploy of a stage needs --image-tag or --build-images")
    if options.image_tag is not None and not TAG_PATTERN.match(options.image_tag):
        raise AwsCommandError(
            f"--image-tag {options.image_tag!r} is not a commit id (7-40 hex digits)"
        )
    if options.delivery:
        _check_delivery(cloudformation, options.stage, options.delivery_parameters)


def _upload_training_data(
    store: _ModelsBucket, data_dir: Path | None, result: StageDeployment, report: Report
) -> None:
    if data_dir is None:
        report("training data: none uploaded (no --data folder and no shared dataset)")
        return
    synced = sync_dataset(store.s3, store.bucket, store.key_arn, data_dir)
    report(
        f"training data s3://{store.bucket}/{DATASET_PREFIX}: {synced.uploaded} uploaded, "
        f"{synced.unchanged} unchanged, {synced.removed} removed"
    )
    if synced.changed:
        result.changed.append("training data")


def _upload_model(
    store: _ModelsBucket, model_dir: Path | None, result: StageDeployment, report: Report
) -> dict[str, str]:
    if model_dir is None:
        raise AwsCommandError("no model folder: pass --model-dir")
    artifact = pack_model(model_dir)
    if upload_model(store.s3, store.bucket, store.key_arn, artifact):
        result.changed.append("model artifact")
    url = f"s3://{store.bucket}/{artifact.key}"
    report(f"model artifact {url} ({artifact.name} {artifact.version})")
    return {"ModelDataUrl": url}


def _check_delivery(
    cloudformation: CloudFormationClient, stage: str, parameters: Mapping[str, str]
) -> None:
    """A first delivery deploy from GitHub needs the CodeConnections connection."""
    if describe_stack(cloudformation, stack_name(stage, DELIVERY)) is not None:
        return
    if parameters.get("SourceProvider") != "CodeCommit" and not parameters.get("ConnectionArn"):
        raise AwsCommandError(
            "the delivery stack reads GitHub through a CodeConnections connection: create one "
            "(aws codeconnections create-connection --provider-type GitHub --connection-name "
            "kkot), confirm it in the console, and pass --connection-arn and --repository"
        )


def _require_images(session: boto3.Session, stage: str, images: list[str], tag: str) -> None:
    wanted = [(repository_name(stage, image), tag) for image in images]
    missing = missing_images(session.client("ecr"), wanted)
    if missing:
        raise AwsCommandError(
            f"images not in ECR: {', '.join(missing)}; push them (docker push, or the "
            "release pipeline) or run with --build-images"
        )
