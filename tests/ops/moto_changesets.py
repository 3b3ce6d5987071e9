"""moto's server, with change-set execution brought up to what CloudFormation does.

Run as `python -m tests.ops.moto_changesets -p PORT -H 127.0.0.1` (the arguments of
`moto.server`). moto 5.2 creates and updates stacks fully through CreateStack and
UpdateStack, but its ExecuteChangeSet only applies the resources: a stack created from
a change set has no outputs and no exports (and sees no other stack's exports), and an
update keeps the old parameter values. On AWS a change set does what CreateStack /
UpdateStack do, so here ExecuteChangeSet runs moto's own create / update path.

moto's stack deletion also leaves the route tables it created, so the VPC they belong to
can never be deleted (DependencyViolation); here a route table of a stack is deleted
with it, as CloudFormation does. NAT gateways, internet gateways, EIPs and flow logs are
still left behind in the emulator; nothing checks for them.

And describing a deleted stack (by id, as one must to see DELETE_COMPLETE) makes moto
evaluate its outputs, which re-creates the deleted resources lazily (buckets come back
under new names); a deleted stack has no outputs here, as on AWS.

ListImports, which moto lacks, answers from the stacks' `Fn::ImportValue`s as AWS does
(an export nobody imports is a ValidationError).

This changes the emulator only; the commands under test send the real API calls.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.parsing import clean_json
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ec2.models.route_tables import RouteTable
from moto.server import main


def _execute_change_set(
    self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
) -> None:
    change_set = self.change_sets.get(change_set_name) or next(
        (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name), None
    )
    if change_set is None:
        raise ValidationError(stack_name)
    stack: Any = self.stacks[change_set.stack_id]
    if change_set.change_set_type == "CREATE":
        stack.template = change_set.template
        stack._parse_template()
        stack.parameters = change_set.parameters
        stack.cross_stack_resources = self.exports
        stack.resource_map = stack._create_resource_map()
        stack.output_map = stack._create_output_map()
        self._validate_export_uniqueness(stack)
        for export in stack.exports:
            self.exports[export.name] = export
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.create_resources()
    else:
        stack.update(change_set.template, parameters=change_set.parameters)
        for export in stack.exports:
            self.exports[export.name] = export
    change_set.execution_status = "EXECUTE_COMPLETE"
    stack.status = f"{change_set.change_set_type}_COMPLETE"


def _delete_route_table(self: RouteTable, account_id: str, region_name: str) -> None:
    ec2_backends[account_id][region_name].delete_route_table(self.id)


_outputs = Stack.outputs


def _outputs_unless_deleted(self: Stack) -> list[dict[str, Any]] | None:
    if self.status == "DELETE_COMPLETE":
        return None
    result: list[dict[str, Any]] | None = _outputs.fget(self)  # type: ignore[attr-defined]
    return result


def _imported_names(node: Any, stack: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "Fn::ImportValue" in node:
            yield str(clean_json(node["Fn::ImportValue"], stack.resource_map))
        for value in node.values():
            yield from _imported_names(value, stack)
    elif isinstance(node, list):
        for value in node:
            yield from _imported_names(value, stack)


def _list_imports(self: CloudFormationResponse) -> ActionResult:
    export = self._get_param("ExportName")
    importers = [
        stack.name
        for stack in self.cloudformation_backend.stacks.values()
        if stack.status != "DELETE_COMPLETE"
        and export in set(_imported_names(stack.template_dict, stack))
    ]
    if not importers:
        raise ValidationError(message=f"Export '{export}' is not imported by any stack.")
    return ActionResult({"Imports": importers})


CloudFormationBackend.execute_change_set = _execute_change_set  # type: ignore[method-assign]
Stack.outputs = property(_outputs_unless_deleted)  # type: ignore[method-assign,assignment]
RouteTable.delete = _delete_route_table  # type: ignore[attr-defined]
CloudFormationResponse.list_imports = _list_imports  # type: ignore[attr-defined]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
