"""The capabilities a template needs, read from the template itself.

CloudFormation refuses a change set that creates IAM resources unless the caller
acknowledges them: CAPABILITY_NAMED_IAM when any IAM resource has an explicit name,
else CAPABILITY_IAM; CAPABILITY_AUTO_EXPAND when the template uses a transform (macro).
Asking for the right one from the template, rather than hard-coding it per command, is
what keeps a new role in a template from breaking a deploy (issue 9, defect 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IAM_NAME_PROPERTIES", "required_capabilities"]

IAM_PREFIX = "AWS::IAM::"
# The IAM resource types whose name property makes them "named" IAM resources.
IAM_NAME_PROPERTIES = {
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
}


def required_capabilities(template: Mapping[str, Any]) -> list[str]:
    """The `Capabilities` a change set of `template` must carry (possibly none)."""
    capabilities: list[str] = []
    resources: Mapping[str, Any] = template.get("Resources") or {}
    iam = [r for r in resources.values() if str(r.get("Type", "")).startswith(IAM_PREFIX)]
    named = any(IAM_NAME_PROPERTIES.get(r["Type"]) in (r.get("Properties") or {}) for r in iam)
    if named:
        capabilities.append("CAPABILITY_NAMED_IAM")
    elif iam:
        capabilities.append("CAPABILITY_IAM")
    if template.get("Transform"):
        capabilities.append("CAPABILITY_AUTO_EXPAND")
    return capabilities
