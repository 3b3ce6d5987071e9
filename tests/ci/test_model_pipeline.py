"""`kkot ci start-model-pipeline` against moto's SageMaker, S3 and ECR: the pipeline the
delivery stack defines starts on the commit's images from the delivery stage's model
repository, with the latest approved package's accuracy as its baseline."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import boto3
import pytest

from cfn.render import render
from cfn.stacks.delivery import build_delivery
from services.cli import main

TAG = "89abcdef0123456789abcdef0123456789abcdef"
STAGE = "production"


@pytest.fixture
def pipeline(repositories: dict[str, str]) -> dict[str, Any]:
    """The delivery stack's SageMaker pipeline and package group, created in moto with
    the template's definition (placeholders filled as Fn::Sub would)."""
    delivery = json.loads(render(build_delivery(), "json"))
    body, _ = delivery["Resources"]["ModelPipeline"]["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]["Fn::Sub"]
    suffix = uuid.uuid4().hex[:8]
    definition = re.sub(r"\$\{(\w+)\}", lambda m: f"test-{m[1].lower()}", body)
    sagemaker = boto3.client("sagemaker")
    name, group = f"kkot-model-{suffix}", f"kkot-flowers-{suffix}"
    sagemaker.create_pipeline(
        PipelineName=name,
        PipelineDefinition=definition,
        RoleArn="arn:aws:iam::123456789012:role/kkot/pipeline",
    )
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    return {"name": name, "group": group, "definition": json.loads(definition)}


def register(group: str, accuracy: float, status: str) -> None:
    """A package whose evaluation report (in S3) says `accuracy`."""
    s3 = boto3.client("s3")
    bucket = f"kkot-models-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="evaluation/x/evaluation.json", Body=json.dumps({"accuracy": accuracy})
    )
    boto3.client("sagemaker").create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {"Image": "x.dkr.ecr.us-east-1.amazonaws.com/kkot-production-model:abc1234"}
            ],
            "SupportedContentTypes": ["image/jpeg"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{bucket}/evaluation/x/evaluation.json",
                }
            }
        },
    )


def start(capsys: pytest.CaptureFixture[str], pipeline: dict[str, Any]) -> tuple[int, Any]:
    code = main(
        [
            "ci",
            "start-model-pipeline",
            "--pipeline",
            pipeline["name"],
            "--package-group",
            pipeline["group"],
            "--stage",
            STAGE,
            "--tag",
            TAG,
        ]
    )
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


def started_parameters(execution_arn: str) -> dict[str, str]:
    listed = boto3.client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution_arn
    )["PipelineParameters"]
    return {p["Name"]: p["Value"] for p in listed}


def test_first_run_starts_with_the_commits_images_and_no_baseline(
    pipeline: dict[str, Any], repositories: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = start(capsys, pipeline)
    assert code == 0, result
    uri = repositories[f"kkot-{STAGE}-model"]
    parameters = started_parameters(result["execution_arn"])
    assert parameters == {
        "TrainingImageUri": f"{uri}:{TAG}-train",
        "InferenceImageUri": f"{uri}:{TAG}",
        "BaselineAccuracy": "0.0",
    }
    # ...and those are parameters the pipeline declares.
    declared = {p["Name"] for p in pipeline["definition"]["Parameters"]}
    assert set(parameters) <= declared
    execution = boto3.client("sagemaker").describe_pipeline_execution(
        PipelineExecutionArn=result["execution_arn"]
    )
    assert execution["PipelineExecutionDisplayName"] == f"commit-{TAG[:12]}"


def test_the_latest_approved_package_sets_the_baseline(
    pipeline: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    register(pipeline["group"], 0.91, "Approved")
    register(pipeline["group"], 0.95, "Approved")
    register(pipeline["group"], 0.99, "PendingManualApproval")  # not deployed: no bar
    code, result = start(capsys, pipeline)
    assert code == 0, result
    assert started_parameters(result["execution_arn"])["BaselineAccuracy"] == "0.95"


def test_a_missing_pipeline_fails_with_a_reason(
    pipeline: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = start(capsys, {**pipeline, "name": "kkot-no-such-pipeline"})
    assert code == 1
    assert "kkot-no-such-pipeline" in err
