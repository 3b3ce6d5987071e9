"""Start the SageMaker model pipeline for a commit's images, with the deployed model's
accuracy as the bar a new model must reach.

The deployed model is the latest Approved package of the group; its evaluation report
(ModelMetrics.ModelQuality.Statistics) holds the accuracy. No approved package yet:
the bar is 0.0 and only the pipeline's AccuracyThreshold applies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.ci.errors import CiError
from services.ci.images import IMAGES, TAG_PATTERN, repository_name, repository_uris

__all__ = ["Started", "baseline_accuracy", "start_model_pipeline"]


@dataclass(frozen=True)
class Started:
    """The execution started and the parameters it got."""

    execution_arn: str
    parameters: dict[str, str]


def _split_s3(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise CiError(f"not an s3:// object URL: {url!r}")
    return bucket, key


def baseline_accuracy(sagemaker: Any, s3: Any, group: str) -> float:
    """The accuracy of the latest Approved package of `group` (0.0 when there is none)."""
    latest = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    if not latest:
        return 0.0
    package = sagemaker.describe_model_package(ModelPackageName=latest[0]["ModelPackageArn"])
    try:
        report = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    except KeyError:
        raise CiError(f"{latest[0]['ModelPackageArn']} has no evaluation report") from None
    bucket, key = _split_s3(report)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        accuracy = float(json.loads(body)["accuracy"])
    except (ValueError, KeyError, TypeError):
        raise CiError(f"{report} holds no accuracy") from None
    return accuracy


def start_model_pipeline(
    sagemaker: Any, s3: Any, ecr: Any, *, pipeline: str, group: str, stage: str, tag: str
) -> Started:
    """Start `pipeline` on the images `tag` in `stage`'s model repository (the one the
    pipeline's role may pull from), with the deployed model's accuracy as baseline."""
    if not TAG_PATTERN.match(tag):
        raise CiError(f"image tag {tag!r} is not a commit id (7-40 hex digits)")
    serve, train = IMAGES["model"], IMAGES["model-train"]
    repository = repository_name(stage, serve)
    uri = repository_uris(ecr, [repository])[repository]
    parameters = {
        "TrainingImageUri": f"{uri}:{tag}{train.tag_suffix}",
        "InferenceImageUri": f"{uri}:{tag}{serve.tag_suffix}",
        "BaselineAccuracy": str(baseline_accuracy(sagemaker, s3, group)),
    }
    response = sagemaker.start_pipeline_execution(
        PipelineName=pipeline,
        PipelineExecutionDisplayName=f"commit-{tag[:12]}",
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
    )
    return Started(response["PipelineExecutionArn"], parameters)
