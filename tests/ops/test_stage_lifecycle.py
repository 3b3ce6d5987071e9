"""The AWS half, executed against the emulator with the real boto3 clients: `kkot aws
deploy` creates every stack of both stages and the delivery stack from the templates the
project generates; a second deploy changes nothing; `kkot aws status` reports them;
`kkot release model` releases an approved package to both stages and refuses one that
is not approved; `kkot aws destroy` leaves no stack, bucket or repository behind.

The tests in this module run in order on one emulator account (the module fixture
deploys; the last test destroys)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from cfn.naming import STAGES, stack_name
from cfn.render import render
from cfn.stacks import STACKS, build_all
from shared.contracts.events import Event, ModelDeployed
from tests.ops.conftest import Emulated, Run, push_image, run_kkot

TAG = "0123abc"
NEW_TAG = "4567def"
IMAGES = ("gateway", "web", "was", "model")
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/0f0e0d0c"
ALARM_EMAIL = "ops@example.com"
PACKAGE_GROUP = "kkot-production-flowers"


def generated_templates() -> dict[str, dict[str, Any]]:
    """The templates as `generate-templates` writes them (JSON), parsed."""
    return {name: json.loads(render(t, "json")) for name, t in build_all().items()}


def expected_stacks() -> list[str]:
    return [
        *(stack_name(stage, s) for stage in STAGES for s in STACKS if s != "delivery"),
        stack_name("production", "delivery"),
    ]


def iam_capability(template: dict[str, Any]) -> set[str]:
    """What CloudFormation demands of a template, read from its resources: named IAM
    resources need CAPABILITY_NAMED_IAM, other IAM resources CAPABILITY_IAM."""
    iam = [r for r in template["Resources"].values() if r["Type"].startswith("AWS::IAM::")]
    named = [
        r
        for r in iam
        if any(k.endswith("Name") and k != "PolicyName" for k in r.get("Properties", {}))
    ]
    if named:
        return {"CAPABILITY_NAMED_IAM"}
    return {"CAPABILITY_IAM"} if iam else set()


@dataclass(frozen=True)
class Deployed:
    first: dict[str, Run]  # stage -> the run that stopped for missing images
    runs: dict[str, Run]  # stage -> the completed deploy


def deploy_argv(stage: str, model_dir: Path, data_dir: Path) -> list[str]:
    argv = [
        "aws",
        "deploy",
        "--stage",
        stage,
        "--image-tag",
        TAG,
        "--model-dir",
        str(model_dir),
        "--data",
        str(data_dir),
    ]
    if stage == "production":
        argv += ["--delivery", "--connection-arn", CONNECTION, "--repository", "example/kkot"]
        argv += ["--alarm-email", ALARM_EMAIL]
    return argv


@pytest.fixture(scope="module")
def deployed(emulated: Emulated, model_dir: Path, data_dir: Path) -> Deployed:
    """Both stages and the delivery stack, deployed as an operator would: the first run
    stops before the model stack because no image is pushed yet; after the push, the
    second run completes."""
    first, runs = {}, {}
    ecr = emulated.client("ecr")
    for stage in STAGES:
        first[stage] = run_kkot(emulated.session, *deploy_argv(stage, model_dir, data_dir))
        for image in IMAGES:
            push_image(ecr, f"kkot-{stage}-{image}", TAG)
        runs[stage] = run_kkot(emulated.session, *deploy_argv(stage, model_dir, data_dir))
    return Deployed(first=first, runs=runs)


def stack(emulated: Emulated, name: str) -> dict[str, Any]:
    found: dict[str, Any] = emulated.client("cloudformation").describe_stacks(StackName=name)[
        "Stacks"
    ][0]
    return found


def parameters(emulated: Emulated, name: str) -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack(emulated, name)["Parameters"]}


def outputs(emulated: Emulated, name: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack(emulated, name).get("Outputs", [])}


def test_a_first_deploy_without_pushed_images_stops_before_the_model_stack(
    deployed: Deployed,
) -> None:
    for stage in STAGES:
        run = deployed.first[stage]
        assert run.code == 1
        assert f"kkot-{stage}-model:{TAG}" in run.err
        assert "--build-images" in run.err


def test_deploy_creates_every_stack_of_both_stages_and_delivery(
    deployed: Deployed, emulated: Emulated
) -> None:
    for stage, run in deployed.runs.items():
        assert run.code == 0, run.err
        url = outputs(emulated, stack_name(stage, "application"))["Url"]
        assert url.startswith("http://")
        assert run.out.rstrip().endswith(f"url: {url}")
    cloudformation = emulated.client("cloudformation")
    statuses = {
        s["StackName"]: s["StackStatus"] for s in cloudformation.describe_stacks()["Stacks"]
    }
    assert statuses == {name: "CREATE_COMPLETE" for name in expected_stacks()}


def test_each_stack_was_sent_as_generated_with_the_capabilities_its_template_needs(
    deployed: Deployed, emulated: Emulated
) -> None:
    templates = generated_templates()
    for name in expected_stacks():
        stack_key = name.split("-", 2)[2]
        creates = [p for p in emulated.sent.for_stack(name) if p["ChangeSetType"] == "CREATE"]
        assert creates, name
        for request in creates:
            sent = json.loads(request["TemplateBody"])
            assert sent == templates[stack_key], f"{name} differs from the generated template"
            assert set(request["Capabilities"]) == iam_capability(sent), name
    # The model and application templates hold IAM roles: the defect-1 class of bug.
    assert iam_capability(templates["model"]) == {"CAPABILITY_IAM"}


def test_the_stage_parameters_and_training_data_reach_aws(
    deployed: Deployed, emulated: Emulated
) -> None:
    from cfn.sagemaker_pipeline import pipeline_definition

    definition = json.loads(pipeline_definition())
    channel_urls = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    s3 = emulated.client("s3")
    for stage in STAGES:
        data = outputs(emulated, stack_name(stage, "data-and-events"))
        bucket = data["ModelsBucketName"]
        assert parameters(emulated, stack_name(stage, "model"))["ModelImageTag"] == TAG
        assert parameters(emulated, stack_name(stage, "application"))["WasImageTag"] == TAG
        for channel in ("TrainDataUrl", "ValidationDataUrl"):
            prefix = channel_urls[channel].replace("s3://${ModelsBucket}/", "")
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            labels = {item["Key"][len(prefix) :].split("/")[0] for item in listed}
            assert labels == {"daisy", "tulip"}, (stage, channel)
        model_url = parameters(emulated, stack_name(stage, "model"))["ModelDataUrl"]
        key = model_url.removeprefix(f"s3://{bucket}/")
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == data["DataKeyArn"]


def test_each_stage_has_an_alarm_topic_and_the_address_given_reaches_the_stack(
    deployed: Deployed, emulated: Emulated
) -> None:
    # moto's CloudFormation creates neither AWS::CloudWatch::Alarm nor
    # AWS::SNS::Subscription (it skips them): that every alarm tells this topic and the
    # address is subscribed only when given is checked on the template
    # (tests/cfn/test_monitoring.py); here, the topic and the parameter as deployed.
    sns = emulated.client("sns")
    for stage in STAGES:
        application = stack_name(stage, "application")
        topic = outputs(emulated, application)["AlarmTopicArn"]
        assert topic.endswith(f":kkot-{stage}-alarms")
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
        # Only production was deployed with --alarm-email.
        expected = ALARM_EMAIL if stage == "production" else ""
        assert parameters(emulated, application)["AlarmEmail"] == expected, stage


def test_a_second_deploy_with_nothing_changed_changes_nothing(
    deployed: Deployed, emulated: Emulated, model_dir: Path, data_dir: Path
) -> None:
    before = len(emulated.sent.change_sets)
    for stage in STAGES:
        argv = [a for a in deploy_argv(stage, model_dir, data_dir) if a != "--model-dir"]
        argv.remove(str(model_dir))
        run = run_kkot(emulated.session, *argv)
        assert run.code == 0, run.err
        assert run.out.rstrip().splitlines()[-2] == f"{stage}: no changes"
        assert run.out.count(": no changes") >= 4
    # Change sets were asked for (and found empty); none is left pending (moto keeps
    # executed ones in the list, AWS drops them).
    assert len(emulated.sent.change_sets) > before
    cloudformation = emulated.client("cloudformation")
    for name in expected_stacks():
        summaries = cloudformation.list_change_sets(StackName=name)["Summaries"]
        assert {s["ExecutionStatus"] for s in summaries} == {"EXECUTE_COMPLETE"}


def test_status_reports_stacks_endpoint_model_and_url(
    deployed: Deployed, emulated: Emulated
) -> None:
    for stage in STAGES:
        run = run_kkot(emulated.session, "aws", "status", "--stage", stage)
        assert run.code == 0, run.err
        for name in STACKS:
            if stage == "production" or name != "delivery":
                assert f"stack {stack_name(stage, name)}: CREATE_COMPLETE" in run.out
        model = parameters(emulated, stack_name(stage, "model"))
        endpoint = outputs(emulated, stack_name(stage, "model"))["EndpointName"]
        assert f"endpoint {endpoint}: InService" in run.out
        assert model["ModelDataUrl"] in run.out
        assert "efficientnet-lite0-imagenet imagenet-1" in run.out  # the model's metadata
        assert f"url: {outputs(emulated, stack_name(stage, 'application'))['Url']}" in run.out


def register_package(emulated: Emulated, tag: str, approve: bool) -> str:
    """A package as the SageMaker pipeline registers it: the artifact in the delivery
    stage's (production's) models bucket under its key, the image in production's model
    repository; approved (or not) in the registry."""
    production = outputs(emulated, stack_name("production", "data-and-events"))
    bucket = production["ModelsBucketName"]
    key = f"training/pipelines-{tag}/output/model.tar.gz"
    emulated.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=f"trained model {tag}".encode(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=production["DataKeyArn"],
    )
    sagemaker = emulated.client("sagemaker")
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if PACKAGE_GROUP not in {g["ModelPackageGroupName"] for g in groups}:
        sagemaker.create_model_package_group(ModelPackageGroupName=PACKAGE_GROUP)
    registry = production["ModelRepositoryUri"]
    arn: str = sagemaker.create_model_package(
        ModelPackageGroupName=PACKAGE_GROUP,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": f"{registry}:{tag}", "ModelDataUrl": f"s3://{bucket}/{key}"}],
            "SupportedContentTypes": ["image/jpeg"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    if approve:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return arn


def test_an_unapproved_package_is_refused_and_nothing_changes(
    deployed: Deployed, emulated: Emulated
) -> None:
    arn = register_package(emulated, "89abcde", approve=False)
    before = {stage: parameters(emulated, stack_name(stage, "model")) for stage in STAGES}
    run = run_kkot(emulated.session, "release", "model", "--package-arn", arn)
    assert run.code == 1
    assert "PendingManualApproval, not Approved" in run.err
    for stage in STAGES:
        assert parameters(emulated, stack_name(stage, "model")) == before[stage]


def test_a_release_stops_at_the_first_stage_that_fails(
    deployed: Deployed, emulated: Emulated
) -> None:
    # The model image was pushed to production's repository only: staging cannot serve it.
    tag = "bcdef01"
    push_image(emulated.client("ecr"), "kkot-production-model", tag)
    arn = register_package(emulated, tag, approve=True)
    before = {stage: parameters(emulated, stack_name(stage, "model")) for stage in STAGES}
    run = run_kkot(
        emulated.session, "release", "model", "--package-arn", arn, "--stages", "staging,production"
    )
    assert run.code == 1
    assert "release to staging failed" in run.err
    assert f"kkot-staging-model:{tag}" in run.err
    assert "Stages not released: production" in run.err
    for stage in STAGES:
        assert parameters(emulated, stack_name(stage, "model")) == before[stage]


# API operations whose IAM action has another name (the rest are `<prefix>:<operation>`).
IAM_ACTIONS = {
    "s3:HeadObject": ["s3:GetObject"],
    "s3:CopyObject": ["s3:GetObject", "s3:PutObject"],
}


def record_call(calls: set[str]) -> Any:
    """A botocore `before-call` handler adding `<signing name>:<operation>` to `calls`."""

    def record(model: Any, **_: Any) -> None:
        calls.add(f"{model.service_model.signing_name}:{model.name}")

    return record


def role_actions(template: dict[str, Any], role: str) -> set[str]:
    """Every action the role's inline policies allow (patterns, as IAM reads them)."""
    actions: set[str] = set()
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                listed = statement["Action"]
                actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def listen_for_model_deployed(emulated: Emulated, stage: str) -> str:
    """A queue subscribed to model.deployed on the stage's bus, as a consumer would."""
    bus = outputs(emulated, stack_name(stage, "data-and-events"))["EventBusName"]
    sqs, events = emulated.client("sqs"), emulated.client("events")
    url: str = sqs.create_queue(QueueName=f"test-model-deployed-{stage}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name=f"test-model-deployed-{stage}",
        EventBusName=bus,
        EventPattern=json.dumps({"detail-type": ["model.deployed"]}),
    )
    events.put_targets(
        Rule=f"test-model-deployed-{stage}",
        EventBusName=bus,
        Targets=[{"Id": "queue", "Arn": arn}],
    )
    return url


def stop_listening(emulated: Emulated, stage: str, url: str) -> None:
    """Remove the test's rule and queue (a bus with foreign rules cannot be deleted)."""
    bus = outputs(emulated, stack_name(stage, "data-and-events"))["EventBusName"]
    events = emulated.client("events")
    rule = f"test-model-deployed-{stage}"
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["queue"])
    events.delete_rule(Name=rule, EventBusName=bus)
    emulated.client("sqs").delete_queue(QueueUrl=url)


def test_an_approved_package_is_released_to_both_stages(
    deployed: Deployed, emulated: Emulated
) -> None:
    queues = {stage: listen_for_model_deployed(emulated, stage) for stage in STAGES}
    for stage in STAGES:
        push_image(emulated.client("ecr"), f"kkot-{stage}-model", NEW_TAG)
    arn = register_package(emulated, NEW_TAG, approve=True)
    package = emulated.client("sagemaker").describe_model_package(ModelPackageName=arn)
    source = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    before = {stage: parameters(emulated, stack_name(stage, "model")) for stage in STAGES}
    sent_before = len(emulated.sent.change_sets)

    # TARGET_STAGES as the deploy-endpoint buildspec passes it: space-separated.
    calls: set[str] = set()
    emulated.session.events.register("before-call", record_call(calls), unique_id="calls")
    try:
        run = run_kkot(
            emulated.session,
            "release",
            "model",
            "--package-arn",
            arn,
            "--stages",
            "staging production",
        )
    finally:
        emulated.session.events.unregister("before-call", unique_id="calls")
    assert run.code == 0, run.err
    # The role the deploy-endpoint project runs as allows every call the release made.
    allowed = role_actions(generated_templates()["delivery"], "DeployEndpointBuildRole")
    needed = {action for call in calls for action in IAM_ACTIONS.get(call, [call])}
    assert {"cloudformation:ExecuteChangeSet", "s3:PutObject", "ecr:DescribeImages"} <= needed
    assert {a for a in needed if not any(fnmatch(a, pattern) for pattern in allowed)} == set()

    s3 = emulated.client("s3")
    source_bucket, _, source_key = source.removeprefix("s3://").partition("/")
    artifact = s3.get_object(Bucket=source_bucket, Key=source_key)["Body"].read()
    for stage in STAGES:
        after = parameters(emulated, stack_name(stage, "model"))
        assert after["ModelImageTag"] == NEW_TAG != before[stage]["ModelImageTag"]
        assert after["ModelDataUrl"] != before[stage]["ModelDataUrl"]
        # Every other parameter kept its value.
        unchanged = {k: v for k, v in after.items() if k not in ("ModelImageTag", "ModelDataUrl")}
        assert unchanged == {k: before[stage][k] for k in unchanged}
        # The artifact is a copy in the stage's own bucket, under the stage's own key.
        data = outputs(emulated, stack_name(stage, "data-and-events"))
        bucket, _, key = after["ModelDataUrl"].removeprefix("s3://").partition("/")
        assert bucket == data["ModelsBucketName"]
        copied = s3.get_object(Bucket=bucket, Key=key)
        assert copied["Body"].read() == artifact
        assert copied["SSEKMSKeyId"] == data["DataKeyArn"]
        assert f"{stage}: {after['ModelDataUrl']} (model image {NEW_TAG})" in run.out
        status = run_kkot(emulated.session, "aws", "status", "--stage", stage)
        assert f"model package {arn}" in status.out
        # WAS hears about it on the stage's bus, in the project's event contract.
        messages = emulated.client("sqs").receive_message(
            QueueUrl=queues[stage], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )["Messages"]
        (message,) = messages
        event = Event.model_validate(json.loads(message["Body"])["detail"])
        assert event.data == ModelDeployed(
            model_name=PACKAGE_GROUP, model_version=str(package["ModelPackageVersion"])
        )

    for stage, url in queues.items():
        stop_listening(emulated, stage, url)

    # Staging first, then production; each with its template's capabilities.
    released = emulated.sent.change_sets[sent_before:]
    assert [r["StackName"] for r in released] == [stack_name(s, "model") for s in STAGES]
    model_template = generated_templates()["model"]
    for request in released:
        assert request["UsePreviousTemplate"] is True
        assert set(request["Capabilities"]) == iam_capability(model_template) != set()


def test_destroy_refuses_without_yes(deployed: Deployed, emulated: Emulated) -> None:
    run = run_kkot(emulated.session, "aws", "destroy", "--stage", "staging")
    assert run.code == 1
    assert "--yes" in run.err
    assert stack(emulated, stack_name("staging", "network"))["StackStatus"].endswith("COMPLETE")


def test_destroy_refuses_while_another_stack_imports_the_stage(
    deployed: Deployed, emulated: Emulated
) -> None:
    cloudformation = emulated.client("cloudformation")
    importer = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"Vpc": {"Value": {"Fn::ImportValue": "kkot-staging-network-VpcId"}}},
    }
    cloudformation.create_stack(StackName="kkot-test-importer", TemplateBody=json.dumps(importer))
    try:
        run = run_kkot(emulated.session, "aws", "destroy", "--stage", "staging", "--yes")
        assert run.code == 1
        assert "kkot-test-importer imports from kkot-staging-network" in run.err
        # (With the delivery stack importing from both stages, it is named too.)
        assert re.search(r"destroy [^:]*kkot-test-importer[^:]* first", run.err)
        for name in STACKS:
            if name != "delivery":
                assert stack(emulated, stack_name("staging", name))["StackStatus"].endswith(
                    "COMPLETE"
                )
    finally:
        cloudformation.delete_stack(StackName="kkot-test-importer")


def test_destroy_leaves_no_stack_bucket_or_repository(
    deployed: Deployed, emulated: Emulated
) -> None:
    s3 = emulated.client("s3")
    # Old versions and delete markers must go too.
    images = outputs(emulated, stack_name("staging", "data-and-events"))["ImagesBucketName"]
    for body in (b"one", b"two"):
        s3.put_object(Bucket=images, Key="uploads/a.jpg", Body=body)
    s3.delete_object(Bucket=images, Key="uploads/a.jpg")

    # Production first: its delivery stack may import from both stages.
    for stage in reversed(STAGES):
        run = run_kkot(emulated.session, "aws", "destroy", "--stage", stage, "--yes")
        assert run.code == 0, run.err
        assert "deletion protection off" in run.out

    assert emulated.client("cloudformation").describe_stacks()["Stacks"] == []
    assert s3.list_buckets()["Buckets"] == []
    assert emulated.client("ecr").describe_repositories()["repositories"] == []
    assert emulated.client("dynamodb").list_tables()["TableNames"] == []
