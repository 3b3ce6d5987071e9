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
    # SageMaker's event carries the group's NAME; `Ref` of the group is its ARN, which
    # would never match. The expected value comes from the group resource itself.
    group = delivery["Resources"]["ModelPackageGroup"]
    assert group["Type"] == "AWS::SageMaker::ModelPackageGroup"
    name = group["Properties"]["ModelPackageGroupName"]
    assert pattern["detail"]["ModelPackageGroupName"] == [name]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["DeployEndpointProject", "Arn"]}
    template = target["InputTransformer"]["InputTemplate"]
    filled = json.loads(template.replace("<package>", '"arn:aws:sagemaker:x"'))
    assert filled["environmentVariablesOverride"][0]["name"] == "MODEL_PACKAGE_ARN"


def test_model_package_group_export_is_the_name(delivery: Template) -> None:
    name = delivery["Resources"]["ModelPackageGroup"]["Properties"]["ModelPackageGroupName"]
    output = delivery["Outputs"]["ModelPackageGroupName"]
    assert output["Value"] == name
    assert output["Export"]["Name"] == {"Fn::Sub": "kkot-${Stage}-delivery-ModelPackageGroupName"}


def test_a_codecommit_push_starts_the_release_pipeline(delivery: Template) -> None:
    # The CodeCommit source action does not poll, so an EventBridge rule must start the
    # pipeline on a push to the branch (only when CodeCommit is the source).
    source = delivery["Resources"]["ReleasePipeline"]["Properties"]["Stages"][0]["Actions"][0]
    condition, codecommit, _ = source["Fn::If"]
    config = codecommit["Configuration"]
    assert config["PollForSourceChanges"] == "false"
    rules = {
        logical: r
        for logical, r in delivery["Resources"].items()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"]["EventPattern"]["source"] == ["aws.codecommit"]
    }
    assert len(rules) == 1, rules
    (rule,) = rules.values()
    assert rule["Condition"] == condition
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["CodeCommit Repository State Change"]
    (repository_arn,) = pattern["resources"]
    assert repository_arn["Fn::Sub"].startswith("arn:${AWS::Partition}:codecommit:")
    assert repository_arn["Fn::Sub"].endswith(":${" + config["RepositoryName"]["Ref"] + "}")
    assert pattern["detail"]["referenceType"] == ["branch"]
    assert pattern["detail"]["referenceName"] == [config["BranchName"]]
    assert set(pattern["detail"]["event"]) == {"referenceCreated", "referenceUpdated"}

    (target,) = rule["Properties"]["Targets"]
    pipeline_arn = target["Arn"]["Fn::Sub"]
    assert pipeline_arn.startswith("arn:${AWS::Partition}:codepipeline:")
    assert pipeline_arn.endswith(":${ReleasePipeline}")
    role = delivery["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]
    assert role["Condition"] == condition
    (statement,) = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["codepipeline:StartPipelineExecution"]
    assert statement["Resource"] == [target["Arn"]]
