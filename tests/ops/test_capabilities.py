"""The capabilities a change set asks for come from the template it deploys."""

from __future__ import annotations

from typing import Any

from services.aws.capabilities import required_capabilities


def template(*resources: dict[str, Any], transform: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Resources": {f"R{n}": resource for n, resource in enumerate(resources)}
    }
    if transform:
        body["Transform"] = transform
    return body


def test_a_template_without_iam_resources_needs_no_capability() -> None:
    assert required_capabilities(template({"Type": "AWS::S3::Bucket"})) == []


def test_an_unnamed_role_needs_capability_iam() -> None:
    role = {"Type": "AWS::IAM::Role", "Properties": {"Path": "/kkot/"}}
    assert required_capabilities(template(role)) == ["CAPABILITY_IAM"]


def test_any_named_iam_resource_needs_capability_named_iam() -> None:
    unnamed = {"Type": "AWS::IAM::Role", "Properties": {}}
    for kind, name in (
        ("AWS::IAM::Role", "RoleName"),
        ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
        ("AWS::IAM::User", "UserName"),
    ):
        named = {"Type": kind, "Properties": {name: "x"}}
        assert required_capabilities(template(unnamed, named)) == ["CAPABILITY_NAMED_IAM"]


def test_an_inline_policy_name_is_not_a_named_iam_resource() -> None:
    policy = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "p"}}
    assert required_capabilities(template(policy)) == ["CAPABILITY_IAM"]


def test_a_transform_needs_auto_expand() -> None:
    role = {"Type": "AWS::IAM::Role", "Properties": {}}
    assert required_capabilities(template(role, transform="AWS::Serverless-2016-10-31")) == [
        "CAPABILITY_IAM",
        "CAPABILITY_AUTO_EXPAND",
    ]
