"""No IAM statement grants `Resource: "*"` on an action that takes a resource; WAS may
invoke only its own endpoint. Read from every generated template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.cfn.conftest import Template, resources_of_type

# Actions AWS only authorizes on "*" (no resource-level permissions), and why we need them.
STAR_ONLY_ACTIONS = {
    "ecr:GetAuthorizationToken": "registry login token; ECR has no resource for it",
    "cloudwatch:PutMetricData": "metrics have no ARN; scoped by a cloudwatch:namespace condition",
    "ecs:RegisterTaskDefinition": "CodePipeline's ECS deploy registers a new revision (no ARN yet)",
    "ecs:DescribeTaskDefinition": "ECS supports no resource-level permission for it",
    "sagemaker:ListModelPackages": "a list action; SageMaker authorizes it on * only",
    "sqs:ListQueues": "a list action (the fan-out sweep finds expired queues by name prefix)",
}


def policy_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role or policy, statement) for every identity policy in the template."""
    for logical, role in resources_of_type(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield logical, statement
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical, policy in resources_of_type(template, kind).items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                yield logical, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_statement_grants_star_resources_beyond_the_allowlist(
    templates: dict[str, Template],
) -> None:
    seen = 0
    offenders = []
    for name, template in templates.items():
        for owner, statement in policy_statements(template):
            seen += 1
            actions = as_list(statement["Action"])
            assert all(a != "*" and not a.endswith(":*") for a in actions), (name, owner)
            assert "NotResource" not in statement and "NotAction" not in statement
            if "*" in as_list(statement["Resource"]):
                offenders += [(name, owner, a) for a in actions if a not in STAR_ONLY_ACTIONS]
    assert offenders == []
    assert seen > 30


def test_no_role_uses_managed_policies_we_cannot_see(templates: dict[str, Template]) -> None:
    for template in templates.values():
        for logical, role in resources_of_type(template, "AWS::IAM::Role").items():
            assert "ManagedPolicyArns" not in role["Properties"], logical


def test_was_invokes_only_its_own_endpoint(templates: dict[str, Template]) -> None:
    grants = [
        (owner, statement)
        for name, template in templates.items()
        for owner, statement in policy_statements(template)
        if "sagemaker:InvokeEndpoint" in as_list(statement["Action"])
    ]
    assert [owner for owner, _ in grants] == ["WasTaskRole"]
    (_, statement) = grants[0]
    assert statement["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
            "endpoint/kkot-${Stage}-flowers"
        }
    ]
    # ...and that is the endpoint the model stack creates.
    endpoint = templates["model"]["Resources"]["FlowersEndpoint"]["Properties"]
    assert endpoint["EndpointName"] == {"Fn::Sub": "kkot-${Stage}-flowers"}


def test_gateway_grants_nothing_and_web_only_its_own_fanout_queue(
    templates: dict[str, Template],
) -> None:
    # The gateway only proxies; web only makes, reads and removes its own fan-out queue
    # and rule (live history), named under the stage bus's `-fanout-` prefix.
    statements = list(policy_statements(templates["application"]))
    assert "GatewayTaskRole" not in {owner for owner, _ in statements}
    web = [statement for owner, statement in statements if owner == "WebTaskRole"]
    assert web
    for statement in web:
        actions = statement["Action"]
        assert all(a.startswith(("sqs:", "events:")) for a in actions), actions
        assert "events:PutEvents" not in actions and "sqs:SendMessage" not in actions
        for resource in statement["Resource"]:
            text = json.dumps(resource)
            assert "-events-fanout-" in text or actions == ["sqs:ListQueues"], text


def test_trust_policies_name_one_service_of_this_account(templates: dict[str, Template]) -> None:
    for template in templates.values():
        for logical, role in resources_of_type(template, "AWS::IAM::Role").items():
            (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            assert list(statement["Principal"]) == ["Service"], logical
            assert statement["Condition"]["StringEquals"]["aws:SourceAccount"], logical


def test_resource_policies_never_allow_anyone(templates: dict[str, Template]) -> None:
    kinds = ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy")
    for template in templates.values():
        for kind in kinds:
            for logical, policy in resources_of_type(template, kind).items():
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    if statement["Effect"] == "Allow":
                        assert statement["Principal"] != "*", logical
                        assert "Service" in statement["Principal"], logical
