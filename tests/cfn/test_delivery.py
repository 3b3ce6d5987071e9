"""The delivery template: the release pipeline's stages, the SageMaker pipeline
definition, the model registry and the approval trigger."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from cfn.naming import STAGES
from services.model.train.hyperparameters import Hyperparameters, parse_hyperparameters
from tests.cfn.conftest import Template

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    # The endpoint deploy checks the release branch out itself (EventBridge starts it,
    # not the pipeline), from the same place as the pipeline's source.
    deploy = projects["DeployEndpointProject"]
    condition, codecommit, github = deploy["Source"]["Fn::If"]
    assert condition == "UseCodeCommit"
    assert codecommit["Type"] == "CODECOMMIT"
    assert github["Type"] == "GITHUB"
    assert github["Auth"] == {"Type": "CODECONNECTIONS", "Resource": {"Ref": "ConnectionArn"}}
    for source in (codecommit, github):
        assert "${FullRepositoryId}" in source["Location"]["Fn::Sub"]
        assert source["BuildSpec"] == "ci/buildspec-deploy-endpoint.yml"
    assert deploy["SourceVersion"] == {"Ref": "BranchName"}


def _definition_text(delivery: Template) -> str:
    body = delivery["Resources"]["ModelPipeline"]["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]
    text, variables = body["Fn::Sub"]
    # Every placeholder is one Fn::Sub fills.
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(variables)
    assert isinstance(text, str)
    return text


def _definition(delivery: Template) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(_definition_text(delivery))
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


def test_the_training_step_hands_the_measured_hyperparameters_to_the_container(
    delivery: Template,
) -> None:
    definition = _definition(delivery)
    train = next(s for s in definition["Steps"] if s["Name"] == "Train")["Arguments"]
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    # Filled the way SageMaker fills them (parameter defaults, strings), the container's
    # hyperparameters.json parses to the training job's own defaults.
    sent = {
        key: defaults[value["Get"].removeprefix("Parameters.")]
        for key, value in train["HyperParameters"].items()
    }
    assert all(isinstance(value, str) for value in sent.values())
    parsed = parse_hyperparameters(sent)
    assert (parsed.backbone, parsed.tta) == (Hyperparameters().backbone, Hyperparameters().tta)


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


def _statements(template: Template, project: str) -> list[dict[str, Any]]:
    role = template["Resources"][project]["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    return [
        s
        for policy in template["Resources"][role]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]


def _covers(pattern: Any, resource: Any) -> bool:
    """Whether a statement's resource entry covers `resource` (Fn::Sub text with IAM
    wildcards, or the same intrinsic, or an s3 object path under the same bucket)."""
    if pattern == resource:
        return True
    if isinstance(pattern, dict) and isinstance(resource, dict):
        if "Fn::Sub" in pattern and "Fn::Sub" in resource:
            return fnmatch.fnmatchcase(resource["Fn::Sub"], pattern["Fn::Sub"])
        if "Fn::Join" in pattern and "Fn::Join" in resource:
            (_, [bucket, path]), (_, [bucket2, path2]) = pattern["Fn::Join"], resource["Fn::Join"]
            return bucket == bucket2 and fnmatch.fnmatchcase(path2, path)
    return False


def _allowed(statements: list[dict[str, Any]], action: str, resource: Any) -> bool:
    return any(
        s["Effect"] == "Allow"
        and action in s["Action"]
        and any(_covers(p, resource) for p in s["Resource"])
        for s in statements
    )


def _sub(resource: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{resource}"}


def test_endpoint_deploy_role_allows_what_the_release_does(templates: dict[str, Template]) -> None:
    # `kkot release model` with the deploy project's role, and CloudFormation with the
    # same credentials (no stack service role) replacing the model and endpoint config
    # and updating the endpoint of every stage's model stack.
    delivery = templates["delivery"]
    statements = _statements(delivery, "DeployEndpointProject")
    region_account = "${AWS::Region}:${AWS::AccountId}"
    group = delivery["Resources"]["ModelPackageGroup"]["Properties"]["ModelPackageGroupName"]
    package = _sub(f"sagemaker:{region_account}:model-package/{group['Fn::Sub']}/3")
    assert _allowed(statements, "sagemaker:DescribeModelPackage", package)

    # The pipeline writes the artifact under the training output path of the delivery
    # stage's (production's) models bucket.
    train = json.loads(_definition_text(delivery))["Steps"][0]["Arguments"]
    assert train["OutputDataConfig"]["S3OutputPath"] == "s3://${ModelsBucket}/training"
    for stage in STAGES:
        bucket = {"Fn::ImportValue": f"kkot-{stage}-data-and-events-ModelsBucketArn"}
        key = {"Fn::ImportValue": f"kkot-{stage}-data-and-events-DataKeyArn"}
        if stage == "production":
            source = {"Fn::Join": ["", [bucket, "/training/job/output/model.tar.gz"]]}
            assert _allowed(statements, "s3:GetObject", source)
        # services/aws/release.py: models/packages/<group>/<version>/model.tar.gz
        copy = {"Fn::Join": ["", [bucket, f"/models/packages/{group['Fn::Sub']}/3/model.tar.gz"]]}
        assert _allowed(statements, "s3:PutObject", copy), stage
        assert _allowed(statements, "s3:GetObject", copy), stage
        assert _allowed(statements, "s3:ListBucket", bucket), stage
        for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"):
            assert _allowed(statements, action, key), (stage, action)

        stack = _sub(f"cloudformation:{region_account}:stack/kkot-{stage}-model/0f1e-2d3c")
        for action in _stack_update_actions():
            assert _allowed(statements, action, stack), (stage, action)
        # The release reads the stage's bucket and key from its data stack and checks
        # the model image is in the stage's model repository first.
        data = _sub(f"cloudformation:{region_account}:stack/kkot-{stage}-data-and-events/9a8b")
        assert _allowed(statements, "cloudformation:DescribeStacks", data), stage
        repository = _sub(f"ecr:{region_account}:repository/kkot-{stage}-model")
        assert _allowed(statements, "ecr:DescribeImages", repository), stage
        # ...and announces model.deployed on the stage's bus once it serves the package.
        assert "EventBusArn" in templates["data-and-events"]["Outputs"]
        bus = {"Fn::ImportValue": f"kkot-{stage}-data-and-events-EventBusArn"}
        assert _allowed(statements, "events:PutEvents", bus), stage

        # CloudFormation names the role <stack>-<logical id>-<suffix>, under its path.
        model = templates["model"]["Resources"]
        role_id = model["FlowersModel"]["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
        path = model[role_id]["Properties"]["Path"]
        role = _sub(f"iam::${{AWS::AccountId}}:role{path}kkot-{stage}-model-{role_id}-AB12CD")
        assert _allowed(statements, "iam:PassRole", role), stage

        # What CloudFormation's handlers call (from the resource schemas cfn-lint ships):
        # the model and endpoint config are replaced (create, read, delete), the endpoint
        # updated (update, read).
        handled = {
            "AWS::SageMaker::Model": ("create", "read", "delete"),
            "AWS::SageMaker::EndpointConfig": ("create", "read", "delete"),
            "AWS::SageMaker::Endpoint": ("update", "read"),
        }
        endpoint = model["FlowersEndpoint"]["Properties"]["EndpointName"]["Fn::Sub"]
        arns = {
            "AWS::SageMaker::Model": "model/flowersmodel-x1y2",
            "AWS::SageMaker::EndpointConfig": "endpoint-config/flowersendpointconfig-x1y2",
            "AWS::SageMaker::Endpoint": "endpoint/" + endpoint.replace("${Stage}", stage),
        }
        assert {r["Type"] for r in model.values() if r["Type"] in handled} == set(handled)
        for kind, operations in handled.items():
            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
            needed = {p for op in operations for p in schema["handlers"][op]["permissions"]}
            for action in needed:
                if action.startswith("sagemaker:"):
                    target = _sub(f"sagemaker:{region_account}:{arns[kind]}")
                elif action == "iam:PassRole":
                    target = role
                else:
                    assert action == "kms:DescribeKey", action
                    target = key
                assert _allowed(statements, action, target), (stage, kind, action)


def _action(call: str) -> str:
    return "".join(part.title() for part in call.split("_"))


def _stack_update_actions() -> set[str]:
    """The CloudFormation calls services.aws makes to update a stack through a change
    set (read from its source), but deleting one: the release never creates a model
    stack, so it never deletes a failed creation."""
    aws = REPO_ROOT / "services" / "aws"
    source = "".join(
        (aws / f"{m}.py").read_text(encoding="utf-8") for m in ("stacks", "stack_events")
    )
    calls = set(re.findall(r"client\.([a-z_]+)\(", source))
    calls |= set(re.findall(r'get_paginator\("([a-z_]+)"\)', source))
    calls -= {"get_paginator", "delete_stack"}
    assert {"create_change_set", "execute_change_set", "describe_stack_events"} <= calls
    return {f"cloudformation:{_action(c)}" for c in calls}


def _boto3_calls(module: str) -> set[str]:
    """IAM actions of the boto3 calls a services/ci module makes (client.some_call( ->
    service:SomeCall), read from its source."""
    source = (REPO_ROOT / "services" / "ci" / f"{module}.py").read_text(encoding="utf-8")
    return {
        f"{client}:{_action(call)}"
        for client, call in re.findall(r"\b(ecr|sagemaker|s3)\.([a-z_]+)\(", source)
    }


def test_image_build_roles_allow_what_kkot_ci_calls(delivery: Template) -> None:
    images = _boto3_calls("images")
    model = images | _boto3_calls("model_pipeline")
    assert {"ecr:DescribeImages", "sagemaker:StartPipelineExecution"} <= model
    for project, needed in (("ImagesProject", images), ("ModelImageProject", model)):
        granted = {a for s in _statements(delivery, project) for a in s["Action"]}
        assert needed <= granted, (project, needed - granted)
