"""The delivery template: the release pipeline's stages, the SageMaker pipeline
definition, the model registry and the approval trigger."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.cfn.conftest import Template


@pytest.fixture(scope="module")
def delivery(templates: dict[str, Template]) -> Template:
    return templates["delivery"]


def test_release_pipeline_stages_in_order(delivery: Template) -> None:
    pipeline = delivery["Resources"]["ReleasePipeline"]["Properties"]
    stages = [s["Name"] for s in pipeline["Stages"]]
    assert stages == ["Source", "Test", "Build", "Deploy-staging", "Approve", "Deploy-production"]
    assert pipeline["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    approve = pipeline["Stages"][4]["Actions"][0]["ActionTypeId"]
    assert approve["Category"] == "Approval" and approve["Provider"] == "Manual"
    for stage, deploy in (
        ("staging", pipeline["Stages"][3]),
        ("production", pipeline["Stages"][5]),
    ):
        targets = {
            (a["Configuration"]["ClusterName"], a["Configuration"]["ServiceName"])
            for a in deploy["Actions"]
        }
        assert targets == {
            (f"AppEcsCluster-{stage}", f"app-{s}-service") for s in ("gateway", "web", "was")
        }


def test_source_is_codeconnections_by_default_codecommit_on_request(delivery: Template) -> None:
    assert delivery["Parameters"]["SourceProvider"]["Default"] == "CodeConnections"
    source = delivery["Resources"]["ReleasePipeline"]["Properties"]["Stages"][0]["Actions"][0]
    condition, codecommit, connection = source["Fn::If"]
    assert condition == "UseCodeCommit"
    assert codecommit["ActionTypeId"]["Provider"] == "CodeCommit"
    assert connection["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert connection["Configuration"]["ConnectionArn"] == {"Ref": "ConnectionArn"}


def test_build_projects_use_the_repository_buildspecs(delivery: Template) -> None:
    projects = {
        logical: r["Properties"]
        for logical, r in delivery["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project"
    }
    assert projects["TestProject"]["Source"]["BuildSpec"] == "ci/buildspec-test.yml"
    assert projects["ImagesProject"]["Source"]["BuildSpec"] == "ci/buildspec-build.yml"
    assert projects["ImagesProject"]["Environment"]["PrivilegedMode"] is True
    assert projects["ModelImageProject"]["Source"]["BuildSpec"] == "ci/buildspec-model.yml"
    assert "MODEL_PACKAGE_ARN" in projects["DeployEndpointProject"]["Source"]["BuildSpec"]


def _definition(delivery: Template) -> dict[str, Any]:
    body = delivery["Resources"]["ModelPipeline"]["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]
    text, variables = body["Fn::Sub"]
    # Every placeholder is one Fn::Sub fills.
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(variables)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_sagemaker_pipeline_trains_evaluates_checks_and_registers(delivery: Template) -> None:
    definition = _definition(delivery)
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert [s["Type"] for s in definition["Steps"]] == ["Training", "Processing", "Condition"]
    train = steps["Train"]["Arguments"]
    assert {c["ChannelName"] for c in train["InputDataConfig"]} == {"train", "validation"}
    assert train["AlgorithmSpecification"]["TrainingImage"] == {
        "Get": "Parameters.TrainingImageUri"
    }
    assert steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"] == ["evaluate"]
    threshold, baseline = steps["AccuracyCheck"]["Arguments"]["Conditions"]
    for condition in (threshold, baseline):
        assert condition["Type"] == "GreaterThanOrEqualTo"
        assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "accuracy"
    assert threshold["RightValue"] == {"Get": "Parameters.AccuracyThreshold"}
    # ...and not worse than the deployed model.
    assert baseline["RightValue"] == {"Get": "Parameters.BaselineAccuracy"}
    (register,) = steps["AccuracyCheck"]["Arguments"]["IfSteps"]
    assert register["Type"] == "RegisterModel"
    assert register["Arguments"]["ModelPackageGroupName"] == "${ModelPackageGroup}"
    assert steps["AccuracyCheck"]["Arguments"]["ElseSteps"][0]["Type"] == "Fail"
    names = {p["Name"] for p in definition["Parameters"]}
    assert {
        "TrainingImageUri",
        "InferenceImageUri",
        "AccuracyThreshold",
        "BaselineAccuracy",
    } <= names


def test_approving_a_package_starts_the_endpoint_deploy(delivery: Template) -> None:
    rule = delivery["Resources"]["ModelApprovedRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
    assert pattern["detail"]["ModelApprovalStatus"] == ["Approved"]
    assert pattern["detail"]["ModelPackageGroupName"] == [{"Ref": "ModelPackageGroup"}]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["DeployEndpointProject", "Arn"]}
    template = target["InputTransformer"]["InputTemplate"]
    filled = json.loads(template.replace("<package>", '"arn:aws:sagemaker:x"'))
    assert filled["environmentVariablesOverride"][0]["name"] == "MODEL_PACKAGE_ARN"
