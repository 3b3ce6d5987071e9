"""Customer-managed KMS keys with key policies that name the services allowed to use them."""

from __future__ import annotations

from collections.abc import Sequence

from awacs.aws import Action, Allow, Condition, Principal, Statement
from troposphere import Ref, Sub
from troposphere.kms import Alias, Key

from cfn.naming import PROJECT
from cfn.policies import document

__all__ = ["customer_key", "key_alias", "service_may_use_key"]


def customer_key(
    logical_id: str,
    description: str,
    service_statements: Sequence[Statement] = (),
) -> Key:
    """A rotating symmetric key administered by the account (so IAM policies can grant
    its use) plus statements for AWS services that encrypt with it on our behalf.
    Key policies always say Resource "*": it means this key."""
    account_root = Statement(
        Sid="AccountAdministersKey",
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=[Action("kms", "*")],
        Resource=["*"],
    )
    return Key(
        logical_id,
        Description=description,
        EnableKeyRotation=True,
        PendingWindowInDays=30,
        KeyPolicy=document(account_root, *service_statements),
    )


def service_may_use_key(
    sid: str, service: str | Sub, condition: Condition | None = None
) -> Statement:
    """Key-policy statement letting an AWS service principal encrypt and decrypt."""
    statement = Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("Service", [service]),
        Action=[
            Action("kms", "Encrypt"),
            Action("kms", "Decrypt"),
            Action("kms", "ReEncrypt*"),
            Action("kms", "GenerateDataKey*"),
            Action("kms", "DescribeKey"),
        ],
        Resource=["*"],
    )
    if condition is not None:
        statement.Condition = condition
    return statement


def key_alias(logical_id: str, key: Key, name: str) -> Alias:
    """`alias/kkot-${Stage}-<name>` pointing at `key`."""
    return Alias(
        logical_id, AliasName=Sub(f"alias/{PROJECT}-${{Stage}}-{name}"), TargetKeyId=Ref(key)
    )
