"""`kkot release model`: an Approved model package, released to the stages in order.

For each stage (staging, then production, by default):

1. the package's artifact is COPIED into the stage's own models bucket
   (`models/packages/<group>/<version>/model.tar.gz`), encrypted under the stage's data
   key. Each stage's SageMaker execution role may read only its own bucket and key
   (cfn/stacks/model.py), and the pipeline writes the artifact into the delivery
   stage's bucket under that stage's key; a copy keeps that isolation, where a grant
   would open one stage's bucket and key to the other stage's role (issue 9, defect 3);
2. the model image tag (the package's image is `<registry>/kkot-<stage>-model:<commit>`)
   must exist in the stage's own model repository, where the model stack pulls from;
3. the stage's model stack is updated through a change set with its current template,
   the new ModelDataUrl and ModelImageTag, every other parameter at its current value,
   and the capabilities the template needs; SageMaker shifts traffic blue/green and the
   stack settles when the endpoint is InService again (or rolls back on the alarms);
4. when the stage now serves the package, `model.deployed` goes on the stage's event bus
   (services.aws.announce), so WAS picks up the new version at once.

The first stage that fails stops the release: the later stages keep what they serve.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.aws.artifacts import kms_arguments
from services.aws.console import Report, say
from services.aws.deploy import stack_name, stack_output
from services.aws.errors import AwsCommandError
from services.aws.images import missing_images, repository_name
from services.aws.stacks import StackInfo, Waiting, deploy_stack, describe_stack

if TYPE_CHECKING:
    import boto3

__all__ = [
    "METADATA_PACKAGE",
    "ModelPackage",
    "StageRelease",
    "parse_stages",
    "read_package",
    "release_model",
]

METADATA_PACKAGE = "kkot-model-package"
APPROVED = "Approved"
_IMAGE_TAG = re.compile(r":(?P<tag>[^:/@]+)$")


@dataclass(frozen=True)
class ModelPackage:
    """What the release needs from a model package."""

    arn: str
    group: str
    version: int
    status: str
    model_data_url: str
    image: str

    @property
    def image_tag(self) -> str:
        match = _IMAGE_TAG.search(self.image)
        if match is None:
            raise AwsCommandError(f"{self.arn}: image {self.image} has no tag (a commit id)")
        return match.group("tag")

    @property
    def release_key(self) -> str:
        """Where each stage keeps its copy of the artifact."""
        return f"models/packages/{self.group}/{self.version}/model.tar.gz"


@dataclass(frozen=True)
class StageRelease:
    """What one stage serves after the release."""

    stage: str
    model_data_url: str
    image_tag: str
    changed: bool


def parse_stages(text: str) -> list[str]:
    """Stages from `staging,production` or `staging production` (TARGET_STAGES)."""
    from cfn.naming import STAGES

    stages: list[str] = []
    for stage in re.split(r"[\s,]+", text.strip()):
        if not stage:
            continue
        if stage not in STAGES:
            raise AwsCommandError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
        if stage not in stages:
            stages.append(stage)
    if not stages:
        raise AwsCommandError("no stage to release to")
    return stages


def read_package(session: boto3.Session, arn: str) -> ModelPackage:
    """The package's approval status, artifact and image."""
    try:
        package: Any = session.client("sagemaker").describe_model_package(ModelPackageName=arn)
    except ClientError as exc:
        raise AwsCommandError(f"cannot read model package {arn}: {exc}") from exc
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    if not containers or not containers[0].get("ModelDataUrl"):
        raise AwsCommandError(f"{arn} has no container with a ModelDataUrl")
    return ModelPackage(
        arn=package["ModelPackageArn"],
        group=package.get("ModelPackageGroupName", "ungrouped"),
        version=int(package.get("ModelPackageVersion", 0)),
        status=package.get("ModelApprovalStatus", "unknown"),
        model_data_url=containers[0]["ModelDataUrl"],
        image=containers[0]["Image"],
    )


def release_model(
    session: boto3.Session,
    package_arn: str,
    stages: Sequence[str],
    report: Report = say,
    waiting: Waiting | None = None,
) -> list[StageRelease]:
    """Release the package to `stages` in order; raises AwsCommandError at the first
    stage that fails (naming the stages left untouched)."""
    package = read_package(session, package_arn)
    if package.status != APPROVED:
        raise AwsCommandError(
            f"{package.arn} is {package.status}, not {APPROVED}: approve it in the model "
            "registry first"
        )
    tag = package.image_tag
    report(f"releasing {package.arn} ({package.model_data_url}, model image {tag})")
    released: list[StageRelease] = []
    for index, stage in enumerate(stages):
        try:
            released.append(
                _release_to(session, package, tag, stage, report=report, waiting=waiting)
            )
        except (AwsCommandError, ClientError) as exc:
            untouched = ", ".join(stages[index + 1 :]) or "none"
            raise AwsCommandError(
                f"release to {stage} failed: {exc}. Stages not released: {untouched}"
            ) from exc
    return released


def _announce(
    session: boto3.Session,
    package: ModelPackage,
    stage: str,
    data: StackInfo,
    *,
    previous_url: str | None,
    report: Report,
) -> None:
    from services.aws.announce import announce_deployed
    from services.aws.session import region_of
    from shared.contracts.events import ModelDeployed

    previous = _released_version(previous_url)
    event = announce_deployed(
        stack_output(data, "EventBusName"),
        region_of(session),
        ModelDeployed(
            model_name=package.group,
            model_version=str(package.version),
            previous_version=previous,
        ),
    )
    report(f"{stage}: model.deployed {event.id} on {stack_output(data, 'EventBusName')}")


def _released_version(url: str | None) -> str | None:
    """The package version a release key names (`models/packages/<group>/<v>/...`)."""
    match = re.search(r"/models/packages/[^/]+/(\d+)/model\.tar\.gz$", url or "")
    return match.group(1) if match else None


def _release_to(
    session: boto3.Session,
    package: ModelPackage,
    tag: str,
    stage: str,
    *,
    report: Report,
    waiting: Waiting | None,
) -> StageRelease:
    cloudformation = session.client("cloudformation")
    data = describe_stack(cloudformation, stack_name(stage, "data-and-events"))
    if data is None:
        raise AwsCommandError(f"{stack_name(stage, 'data-and-events')} does not exist")
    missing = missing_images(session.client("ecr"), [(repository_name(stage, "model"), tag)])
    if missing:
        raise AwsCommandError(f"image {missing[0]} is not in ECR")

    bucket, key_arn = stack_output(data, "ModelsBucketName"), stack_output(data, "DataKeyArn")
    model_stack = describe_stack(cloudformation, stack_name(stage, "model"))
    current_url = model_stack.parameters.get("ModelDataUrl") if model_stack else None
    source_bucket, _, source_key = package.model_data_url.removeprefix("s3://").partition("/")
    session.client("s3").copy_object(
        Bucket=bucket,
        Key=package.release_key,
        CopySource={"Bucket": source_bucket, "Key": source_key},
        MetadataDirective="REPLACE",
        Metadata={METADATA_PACKAGE: package.arn},
        ContentType="application/gzip",
        **kms_arguments(key_arn),  # type: ignore[arg-type]
    )
    model_data_url = f"s3://{bucket}/{package.release_key}"
    report(f"{stage}: artifact copied to {model_data_url}")
    outcome = deploy_stack(
        cloudformation,
        stack_name(stage, "model"),
        template_body=None,
        parameters={"ModelDataUrl": model_data_url, "ModelImageTag": tag},
        report=report,
        waiting=waiting,
    )
    serves = outcome.stack.parameters
    if outcome.changed:
        _announce(session, package, stage, data, previous_url=current_url, report=report)
    report(
        f"{stage}: serves {package.arn} ({serves.get('ModelDataUrl')}, "
        f"model image {serves.get('ModelImageTag')})"
    )
    return StageRelease(
        stage=stage,
        model_data_url=serves.get("ModelDataUrl", ""),
        image_tag=serves.get("ModelImageTag", ""),
        changed=outcome.changed,
    )
