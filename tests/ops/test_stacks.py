"""`deploy_stack` against the emulator, on small templates: the empty change set as AWS
reports it, and which parameters keep their values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from services.aws.stacks import delete_stack, deploy_stack
from tests.ops.conftest import Emulated

HANDLE = {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}


@pytest.fixture
def cloudformation(emulated: Emulated) -> Iterator[Any]:
    client = emulated.session.client("cloudformation")
    yield client
    for name in ("kkot-test-plain", "kkot-test-parameters"):
        delete_stack(client, name, report=lambda _: None)


def test_an_empty_change_set_is_deleted_and_reported_as_no_changes(
    cloudformation: Any,
) -> None:
    # No parameters: moto then answers as AWS does, with a FAILED change set whose
    # reason says it holds no changes (with parameters it refuses CreateChangeSet).
    body = json.dumps({"Resources": HANDLE})
    lines: list[str] = []
    deleted: list[str] = []
    cloudformation.meta.events.register(
        "before-parameter-build.cloudformation.DeleteChangeSet",
        lambda params, **_: deleted.append(params["ChangeSetName"]),
    )
    first = deploy_stack(cloudformation, "kkot-test-plain", template_body=body, parameters={})
    again = deploy_stack(
        cloudformation, "kkot-test-plain", template_body=body, parameters={}, report=lines.append
    )
    assert first.changed and not again.changed
    assert lines == ["kkot-test-plain: no changes"]
    assert len(deleted) == 1
    summaries = cloudformation.list_change_sets(StackName="kkot-test-plain")["Summaries"]
    assert {s["ExecutionStatus"] for s in summaries} == {"EXECUTE_COMPLETE"}


def test_parameters_not_given_keep_their_value_unless_keep_says_otherwise(
    cloudformation: Any,
) -> None:
    template = {
        "Parameters": {
            "Colour": {"Type": "String", "Default": "white"},
            "Size": {"Type": "String", "Default": "small"},
        },
        "Resources": HANDLE,
    }
    body = json.dumps(template)
    name = "kkot-test-parameters"

    def values() -> dict[str, str]:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}

    deploy_stack(cloudformation, name, template_body=body, parameters={"Colour": "red"})
    deploy_stack(cloudformation, name, template_body=body, parameters={"Size": "large"})
    assert values() == {"Colour": "red", "Size": "large"}
    deploy_stack(cloudformation, name, template_body=None, parameters={"Size": "tiny"}, keep=[])
    assert values() == {"Colour": "white", "Size": "tiny"}
