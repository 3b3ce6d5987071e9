"""IAM helpers built on awacs: trust policies, scoped statements and ARNs.

Every statement names the resources it acts on; the few actions AWS only authorizes
on `"*"` are listed (with the reason) in tests/cfn/test_iam.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from awacs.aws import (
    Action,
    Allow,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import Sub

__all__ = [
    "actions",
    "allow",
    "arn",
    "assume_role_policy",
    "document",
]

# A literal ARN or an intrinsic function (troposphere is untyped, so `object`).
Resource = object


def actions(service: str, *names: str) -> list[Action]:
    """IAM actions of one service, e.g. `actions("sqs", "ReceiveMessage")`."""
    return [Action(service, name) for name in names]


def allow(
    action_list: Sequence[Action],
    resources: Sequence[Resource],
    sid: str | None = None,
    condition: Condition | None = None,
) -> Statement:
    """An Allow statement on named resources (never `*`, see tests/cfn/test_iam.py)."""
    kwargs: dict[str, object] = {
        "Effect": Allow,
        "Action": list(action_list),
        "Resource": list(resources),
    }
    if sid:
        kwargs["Sid"] = sid
    if condition is not None:
        kwargs["Condition"] = condition
    return Statement(**kwargs)


def document(*statements: Statement) -> PolicyDocument:
    """A policy document of `statements`."""
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


def assume_role_policy(service: str, source_account: bool = True) -> PolicyDocument:
    """Trust policy letting one AWS service assume the role, from this account only
    (the aws:SourceAccount condition guards against the confused-deputy problem)."""
    statement = Statement(
        Effect=Allow,
        Principal=Principal("Service", [service]),
        Action=[Action("sts", "AssumeRole")],
    )
    if source_account:
        statement.Condition = Condition(
            StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")})
        )
    return document(statement)


def arn(service: str, resource: str, region: bool = True, account: bool = True) -> Sub:
    """`arn:${AWS::Partition}:<service>:<region>:<account>:<resource>` (resource may use ${})."""
    reg = "${AWS::Region}" if region else ""
    acct = "${AWS::AccountId}" if account else ""
    return Sub(f"arn:${{AWS::Partition}}:{service}:{reg}:{acct}:{resource}")
