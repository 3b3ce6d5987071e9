"""`kkot aws destroy`: everything of a stage, in reverse order, leaving nothing behind.

Nothing is deleted while a stack outside the stage imports the stage's exports (the
delivery stack imports both stages' buckets and keys): that stack must go first.

CloudFormation cannot delete what is protected or not empty, so before each stack goes,
its resources are made deletable, found by type among the stack's resources (a new
bucket or repository in a template is handled without a change here):

- S3 buckets: every object version and delete marker removed;
- ECR repositories: every image removed;
- DynamoDB tables: deletion protection off;
- load balancers: the `deletion_protection.enabled` attribute off (production's ALB);
- SageMaker model package groups: their model packages deleted.

The KMS keys are scheduled for deletion by their stacks (30 days), as AWS requires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.aws.console import Report, say
from services.aws.deploy import DELIVERY, STAGE_STACKS, stack_name
from services.aws.errors import AwsCommandError
from services.aws.stacks import StackInfo, Waiting, delete_stack, describe_stack

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_cloudformation import CloudFormationClient

__all__ = ["destroy_stage"]

# A stack whose delete fails is emptied again and deleted once more (objects written
# while it was being emptied), then the failure stands.
DELETE_ATTEMPTS = 2
BATCH = 1000  # DeleteObjects takes at most 1000 keys; BatchDeleteImage 100 (below)


def destroy_stage(
    session: boto3.Session, stage: str, report: Report = say, waiting: Waiting | None = None
) -> list[str]:
    """Delete the stage's stacks (delivery first, network last); the names deleted."""
    cloudformation = session.client("cloudformation")
    names = [stack_name(stage, stack) for stack in (DELIVERY, *reversed(STAGE_STACKS))]
    stacks = [info for info in (describe_stack(cloudformation, n) for n in names) if info]
    _refuse_if_imported_elsewhere(cloudformation, stacks)
    deleted = []
    for name in (info.name for info in stacks):
        # Twice at most: S3 delivers access logs late, so the access-log bucket can gain
        # objects between being emptied and being deleted; the second pass catches them.
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            _prepare(session, name, report)
            try:
                delete_stack(cloudformation, name, report=report, waiting=waiting)
                break
            except AwsCommandError:
                if attempt == DELETE_ATTEMPTS:
                    raise
                report(f"{name}: emptying again and retrying the delete")
        deleted.append(name)
    return deleted


def _refuse_if_imported_elsewhere(
    cloudformation: CloudFormationClient, stacks: list[StackInfo]
) -> None:
    """Stop before deleting anything when a stack outside the stage imports the stage's
    exports (the delivery stack of another stage, say): CloudFormation would refuse the
    exporting stack only after the ones before it were gone."""
    own = {info.name for info in stacks}
    users: dict[str, set[str]] = {}
    for info in stacks:
        for export in info.exports:
            for importer in _importers(cloudformation, export):
                if importer not in own:
                    users.setdefault(importer, set()).add(info.name)
    if users:
        detail = "; ".join(f"{u} imports from {', '.join(sorted(s))}" for u, s in users.items())
        raise AwsCommandError(f"{detail}: destroy {', '.join(sorted(users))} first")


def _importers(cloudformation: CloudFormationClient, export: str) -> list[str]:
    try:
        pages = list(cloudformation.get_paginator("list_imports").paginate(ExportName=export))
    except ClientError as exc:
        if "is not imported" in str(exc):
            return []
        raise
    return [name for page in pages for name in page["Imports"]]


def _prepare(session: boto3.Session, name: str, report: Report) -> None:
    for resource in _resources(session, name):
        handler = _PREPARE.get(resource["ResourceType"])
        if handler and resource.get("PhysicalResourceId"):
            handler(session, resource["PhysicalResourceId"], report)


def _resources(session: boto3.Session, name: str) -> list[Any]:
    paginator = session.client("cloudformation").get_paginator("list_stack_resources")
    return [
        r for page in paginator.paginate(StackName=name) for r in page["StackResourceSummaries"]
    ]


def _empty_bucket(session: boto3.Session, bucket: str, report: Report) -> None:
    s3 = session.client("s3")
    removed = 0
    paginator = s3.get_paginator("list_object_versions")
    try:
        pages = list(paginator.paginate(Bucket=bucket))
    except s3.exceptions.NoSuchBucket:
        return
    entries = [
        {"Key": item["Key"], "VersionId": item["VersionId"]}
        for page in pages
        for item in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
    ]
    for start in range(0, len(entries), BATCH):
        batch = entries[start : start + BATCH]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
        removed += len(batch)
    report(f"bucket {bucket}: {removed} object versions removed")


def _empty_repository(session: boto3.Session, repository: str, report: Report) -> None:
    ecr = session.client("ecr")
    paginator = ecr.get_paginator("list_images")
    try:
        images = [
            i for page in paginator.paginate(repositoryName=repository) for i in page["imageIds"]
        ]
    except ecr.exceptions.RepositoryNotFoundException:
        return
    for start in range(0, len(images), 100):
        ecr.batch_delete_image(repositoryName=repository, imageIds=images[start : start + 100])
    report(f"repository {repository}: {len(images)} images removed")


def _unprotect_table(session: boto3.Session, table: str, report: Report) -> None:
    session.client("dynamodb").update_table(TableName=table, DeletionProtectionEnabled=False)
    report(f"table {table}: deletion protection off")


def _unprotect_load_balancer(session: boto3.Session, arn: str, report: Report) -> None:
    session.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
    )
    report(f"load balancer {arn.rsplit('/', 2)[-2]}: deletion protection off")


def _delete_model_packages(session: boto3.Session, group: str, report: Report) -> None:
    sagemaker = session.client("sagemaker")
    paginator = sagemaker.get_paginator("list_model_packages")
    arns = [
        p["ModelPackageArn"]
        for page in paginator.paginate(ModelPackageGroupName=group)
        for p in page["ModelPackageSummaryList"]
    ]
    for arn in arns:
        sagemaker.delete_model_package(ModelPackageName=arn)
    report(f"model package group {group}: {len(arns)} packages deleted")


_PREPARE: dict[str, Callable[[boto3.Session, str, Report], None]] = {
    "AWS::S3::Bucket": _empty_bucket,
    "AWS::ECR::Repository": _empty_repository,
    "AWS::DynamoDB::Table": _unprotect_table,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _unprotect_load_balancer,
    "AWS::SageMaker::ModelPackageGroup": _delete_model_packages,
}
