"""Stack events, printed as they happen.

`DescribeStackEvents` returns the newest first, a page at a time; each poll reads pages
until it meets an event it has already seen, and prints the new ones oldest first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.aws.console import Report

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

__all__ = ["EventStream", "format_event"]


def format_event(event: Any) -> str:
    """One event as a line: time, status, logical id, type, and the reason if any."""
    when = event["Timestamp"].strftime("%H:%M:%S")
    line = (
        f"  {when}  {event['ResourceStatus']:<20} {event['LogicalResourceId']}"
        f" ({event['ResourceType']})"
    )
    reason = event.get("ResourceStatusReason")
    return f"{line}: {reason}" if reason else line


class EventStream:
    """The events of one stack that appeared after `start()`."""

    def __init__(self, client: CloudFormationClient, stack: str, report: Report) -> None:
        self._client = client
        self._stack = stack
        self._report = report
        self._seen: set[str] = set()
        self.failures: list[str] = []
        # Whether the stack's own *_IN_PROGRESS event has appeared: until then a
        # settled status is the one from before the operation (execution is async).
        self.started = False

    def start(self) -> None:
        """Remember the newest event that exists now; only later ones are printed (a
        poll stops at the first event it has seen, so the newest one is enough)."""
        page = self._client.describe_stack_events(StackName=self._stack)["StackEvents"]
        self._seen.update(event["EventId"] for event in page[:1])

    def poll(self) -> None:
        """Print the events that appeared since the last call, oldest first."""
        fresh = self._newest_unseen()
        for event in reversed(fresh):
            self._seen.add(event["EventId"])
            self._report(format_event(event))
            if _is_stack_event(event) and event["ResourceStatus"].endswith("_IN_PROGRESS"):
                self.started = True
            if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason"):
                self.failures.append(
                    f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
                )

    def _newest_unseen(self) -> list[Any]:
        fresh: list[Any] = []
        paginator = self._client.get_paginator("describe_stack_events")
        for page in paginator.paginate(StackName=self._stack):
            for event in page["StackEvents"]:
                if event["EventId"] in self._seen:
                    return fresh
                fresh.append(event)
        return fresh


def _is_stack_event(event: Any) -> bool:
    """An event of the stack itself (not of one of its resources or a nested stack)."""
    return bool(
        event["ResourceType"] == "AWS::CloudFormation::Stack"
        and event["LogicalResourceId"] == event.get("StackName")
    )
