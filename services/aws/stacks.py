"""One stack deployed through a change set, and watched until it settles.

`deploy_stack` is the one way every command changes a stack:

1. create a change set (CREATE for a new stack, UPDATE otherwise) with the template (or
   the stack's current one), the parameters (new values, or the previous value for the
   ones named in `keep`) and the capabilities the template needs;
2. wait for it; an empty change set is deleted and reported as "no changes";
3. print what it will change, execute it, print the stack's events as they happen and
   wait for the stack to settle; a failed or rolled-back stack raises AwsCommandError
   with the reasons CloudFormation gave.

A stack left in ROLLBACK_COMPLETE by a failed first create cannot be updated: it holds
no resources, so it is deleted and created again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.aws.capabilities import required_capabilities
from services.aws.console import Report, say
from services.aws.errors import AwsCommandError
from services.aws.stack_events import EventStream
from services.aws.templates import parse_template_body

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.literals import CapabilityType
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef

__all__ = [
    "StackInfo",
    "StackResult",
    "Waiting",
    "delete_stack",
    "deploy_stack",
    "describe_stack",
]

# CloudFormation's words for an empty change set (the AWS CLI's `deploy` matches the same).
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
DONE = ("_COMPLETE", "_FAILED")
SUCCEEDED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")


@dataclass(frozen=True)
class Waiting:
    """How often to poll and for how long (SageMaker endpoint updates take many minutes)."""

    poll_seconds: float = 5.0
    timeout_seconds: float = 3 * 3600.0
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class StackInfo:
    """A stack as DescribeStacks shows it."""

    name: str
    stack_id: str
    status: str
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    exports: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass(frozen=True)
class StackResult:
    """What `deploy_stack` did: whether anything changed, and the stack afterwards."""

    stack: StackInfo
    changed: bool


def describe_stack(client: CloudFormationClient, name: str) -> StackInfo | None:
    """The stack called `name` (or with that id), or None when there is none."""
    try:
        stacks = client.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise
    if not stacks:
        return None
    stack = stacks[0]
    if stack["StackStatus"] == "DELETE_COMPLETE":
        return None
    return StackInfo(
        name=stack["StackName"],
        stack_id=stack["StackId"],
        status=stack["StackStatus"],
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
        },
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])},
        exports=[o["ExportName"] for o in stack.get("Outputs", []) if o.get("ExportName")],
        reason=stack.get("StackStatusReason"),
    )


def deploy_stack(
    client: CloudFormationClient,
    name: str,
    *,
    template_body: str | None,
    parameters: Mapping[str, str],
    keep: Sequence[str] | None = None,
    report: Report = say,
    waiting: Waiting | None = None,
) -> StackResult:
    """Create or update stack `name` through a change set and wait until it settles.

    `template_body` None keeps the stack's current template (UsePreviousTemplate).
    On an update, a parameter not in `parameters` keeps its current value (as
    `aws cloudformation deploy` does), or only those named in `keep` when it is given;
    the others fall back to the template's default. The capabilities come from
    the template that will be deployed. Raises AwsCommandError when CloudFormation
    refuses or the stack fails."""
    waiting = waiting or Waiting()
    existing = _updatable(client, name, report, waiting)
    if template_body is None and existing is None:
        raise AwsCommandError(f"{name} does not exist; deploy the stage first")
    creating = existing is None or existing.status == "REVIEW_IN_PROGRESS"
    if template_body is None:
        current = client.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
        template = parse_template_body(current)
    else:
        template = parse_template_body(template_body)
    capabilities: list[CapabilityType] = required_capabilities(template)  # type: ignore[assignment]
    current_values = {} if creating or existing is None else existing.parameters
    request: dict[str, Any] = {
        "StackName": name,
        "ChangeSetName": "kkot-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f"),
        "ChangeSetType": "CREATE" if creating else "UPDATE",
        "Parameters": _parameters(template, parameters, keep, current_values),
        "Capabilities": capabilities,
        "Description": "kkot",
    }
    if template_body is None:
        request["UsePreviousTemplate"] = True
    else:
        request["TemplateBody"] = template_body

    change_set = _create_change_set(client, request, waiting)
    if change_set is None:
        report(f"{name}: no changes")
        return StackResult(stack=_require(client, name), changed=False)
    report(f"{name}: {'creating' if creating else 'updating'} ({_summary(change_set)})")
    events = EventStream(client, name, report)
    events.start()
    client.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
    stack = _wait_until_settled(client, name, events, waiting)
    if stack.status not in SUCCEEDED:
        reasons = "; ".join(events.failures) or stack.reason or "no reason given"
        raise AwsCommandError(f"{name} ended {stack.status}: {reasons}")
    report(f"{name}: {stack.status}")
    return StackResult(stack=stack, changed=True)


def _updatable(
    client: CloudFormationClient, name: str, report: Report, waiting: Waiting
) -> StackInfo | None:
    """The stack if a change set can be made for it now, None when there is none (a
    failed first create, ROLLBACK_COMPLETE, holds nothing and is deleted first)."""
    existing = describe_stack(client, name)
    if existing is not None and existing.status == "ROLLBACK_COMPLETE":
        report(f"{name}: ROLLBACK_COMPLETE after a failed create; deleting it to start again")
        delete_stack(client, name, report=report, waiting=waiting)
        return None
    if existing is None or existing.status.endswith(DONE):
        return existing
    if existing.status == "REVIEW_IN_PROGRESS":  # a change set made but never executed
        return existing
    raise AwsCommandError(f"{name} is busy ({existing.status}); run again when it settles")


def _create_change_set(
    client: CloudFormationClient, request: dict[str, Any], waiting: Waiting
) -> Any | None:
    """The change set, ready to execute; None when it holds no changes (then deleted).
    AWS reports an empty change set as FAILED with a reason saying so; an emulator may
    refuse CreateChangeSet with the same words instead."""
    name = request["StackName"]
    try:
        change_set_id = client.create_change_set(**request)["Id"]
    except ClientError as exc:
        if _says_no_changes(str(exc)):
            return None
        raise AwsCommandError(f"{name}: change set refused: {_message(exc)}") from exc
    change_set = _wait_for_change_set(client, change_set_id, waiting)
    if change_set["Status"] != "FAILED":
        return change_set
    client.delete_change_set(ChangeSetName=change_set_id)
    reason = change_set.get("StatusReason", "")
    if _says_no_changes(reason):
        return None
    raise AwsCommandError(f"{name}: change set failed: {reason}")


def delete_stack(
    client: CloudFormationClient,
    name: str,
    *,
    report: Report = say,
    waiting: Waiting | None = None,
) -> bool:
    """Delete stack `name` and wait until it is gone; False when there was none."""
    waiting = waiting or Waiting()
    existing = describe_stack(client, name)
    if existing is None:
        return False
    report(f"{name}: deleting")
    events = EventStream(client, existing.stack_id, report)
    events.start()
    client.delete_stack(StackName=existing.stack_id)
    # By id: a deleted stack's id still answers (DELETE_COMPLETE), its name does not.
    stack = _wait_until_settled(client, existing.stack_id, events, waiting)
    if stack.status != "DELETE_COMPLETE":
        reasons = "; ".join(events.failures) or stack.reason or "no reason given"
        raise AwsCommandError(f"{name} ended {stack.status}: {reasons}")
    report(f"{name}: deleted")
    return True


def _parameters(
    template: Mapping[str, Any],
    values: Mapping[str, str],
    keep: Sequence[str] | None,
    current: Mapping[str, str],
) -> list[ParameterTypeDef]:
    declared = template.get("Parameters") or {}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise AwsCommandError(f"the template has no parameter {', '.join(unknown)}")
    parameters: list[ParameterTypeDef] = []
    for key in sorted(declared):
        if key in values:
            parameters.append({"ParameterKey": key, "ParameterValue": values[key]})
        elif key in current and (keep is None or key in keep):
            parameters.append({"ParameterKey": key, "UsePreviousValue": True})
    return parameters


def _wait_for_change_set(client: CloudFormationClient, change_set_id: str, waiting: Waiting) -> Any:
    deadline = time.monotonic() + waiting.timeout_seconds
    while True:
        change_set = client.describe_change_set(ChangeSetName=change_set_id)
        if change_set["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return change_set
        if time.monotonic() > deadline:
            raise AwsCommandError(f"change set {change_set_id} still {change_set['Status']}")
        waiting.sleep(waiting.poll_seconds)


def _wait_until_settled(
    client: CloudFormationClient, name: str, events: EventStream, waiting: Waiting
) -> StackInfo:
    deadline = time.monotonic() + waiting.timeout_seconds
    while True:
        events.poll()
        stack = describe_stack(client, name)
        if stack is None:  # gone: only a delete ends this way
            return StackInfo(name=name, stack_id=name, status="DELETE_COMPLETE")
        if stack.status.endswith(DONE) and events.started:
            events.poll()
            return stack
        if time.monotonic() > deadline:
            raise AwsCommandError(f"{name} still {stack.status} after the time allowed")
        waiting.sleep(waiting.poll_seconds)


def _summary(change_set: Any) -> str:
    changes = [c["ResourceChange"] for c in change_set.get("Changes", []) if "ResourceChange" in c]
    counts: dict[str, int] = {}
    for change in changes:
        counts[change["Action"]] = counts.get(change["Action"], 0) + 1
    replaced = [c["LogicalResourceId"] for c in changes if c.get("Replacement") == "True"]
    text = ", ".join(f"{n} to {a.lower()}" for a, n in sorted(counts.items())) or "no resources"
    return text + (f"; replaces {', '.join(replaced)}" if replaced else "")


def _require(client: CloudFormationClient, name: str) -> StackInfo:
    stack = describe_stack(client, name)
    if stack is None:
        raise AwsCommandError(f"{name} does not exist")
    return stack


def _says_no_changes(text: str) -> bool:
    return any(words in text for words in NO_CHANGES)


def _is_missing(exc: ClientError) -> bool:
    return "does not exist" in _message(exc)


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", exc))
