"""A small interpreter of SageMaker Pipelines' ConditionStep, for tests.

It runs a ConditionStep of a pipeline definition (JSON) the way SageMaker documents it:
`Conditions` must all hold; a comparison's sides are literals, `{"Get":
"Parameters.<name>"}` (the execution's value, else the parameter's DefaultValue, cast
by the parameter's Type — an execution passes every value as a string) or `Std:JsonGet`
of a step's property file (a JsonPath of dotted keys and [index]); `Not`, `Or` and `In`
nest. It answers the names of the steps the condition branches to.

What it cannot prove: that SageMaker itself accepts the definition (moto does not run
pipelines); that is checked by the definition's shape tests and cfn-lint.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ConditionError", "branch_of"]

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThanOrEqualTo": operator.ge,
    "GreaterThan": operator.gt,
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}
_CASTS: dict[str, Callable[[Any], Any]] = {
    "Float": float,
    "Integer": int,
    "String": str,
    "Boolean": lambda v: v if isinstance(v, bool) else str(v).lower() == "true",
}


class ConditionError(Exception):
    """The definition is not one SageMaker could evaluate (unknown name, bad type)."""


def branch_of(
    definition: Mapping[str, Any],
    step_name: str,
    parameters: Mapping[str, Any],
    property_files: Mapping[str, Any],
) -> list[str]:
    """Run the ConditionStep `step_name`: the names of its IfSteps or ElseSteps.

    `parameters` are the execution's values (missing ones take DefaultValue);
    `property_files` maps a property file's FilePath to its parsed JSON.
    """
    steps = _all_steps(definition["Steps"])
    step = steps.get(step_name)
    if step is None or step["Type"] != "Condition":
        raise ConditionError(f"no ConditionStep {step_name!r}")
    context = _Context(definition, steps, parameters, property_files)
    holds = all(context.condition(c) for c in step["Arguments"]["Conditions"])
    branch = step["Arguments"]["IfSteps" if holds else "ElseSteps"]
    return [s["Name"] for s in branch]


def _all_steps(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for step in steps:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            for key in ("IfSteps", "ElseSteps"):
                found |= _all_steps(step["Arguments"].get(key, []))
    return found


class _Context:
    def __init__(
        self,
        definition: Mapping[str, Any],
        steps: Mapping[str, dict[str, Any]],
        parameters: Mapping[str, Any],
        property_files: Mapping[str, Any],
    ) -> None:
        self.declared = {p["Name"]: p for p in definition.get("Parameters", [])}
        self.steps = steps
        self.parameters = parameters
        self.property_files = property_files

    def condition(self, condition: Mapping[str, Any]) -> bool:
        kind = condition["Type"]
        if kind in _COMPARISONS:
            left = self.value(condition["LeftValue"])
            right = self.value(condition["RightValue"])
            if isinstance(left, str) != isinstance(right, str):
                raise ConditionError(f"{kind} compares {left!r} with {right!r}")
            return _COMPARISONS[kind](left, right)
        if kind == "Not":
            return not self.condition(condition["Expression"])
        if kind == "Or":
            return any(self.condition(c) for c in condition["Conditions"])
        if kind == "In":
            query = self.value(condition["QueryValue"])
            return any(query == self.value(v) for v in condition["Values"])
        raise ConditionError(f"unknown condition type {kind!r}")

    def value(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        if "Get" in value:
            return self.get(value["Get"])
        if "Std:JsonGet" in value:
            spec = value["Std:JsonGet"]
            return _json_path(self.property_file(spec["PropertyFile"]), spec["Path"])
        raise ConditionError(f"cannot evaluate {value!r}")

    def get(self, path: str) -> Any:
        kind, _, name = path.partition(".")
        if kind != "Parameters":
            raise ConditionError(f"cannot evaluate Get {path!r} in a condition")
        declared = self.declared.get(name)
        if declared is None:
            raise ConditionError(f"undeclared parameter {name!r}")
        raw = self.parameters.get(name, declared.get("DefaultValue"))
        if raw is None:
            raise ConditionError(f"parameter {name!r} has no value and no default")
        return _CASTS[declared["Type"]](raw)

    def property_file(self, reference: Mapping[str, Any]) -> Any:
        match = re.fullmatch(r"Steps\.(\w+)\.PropertyFiles\.(\w+)", reference.get("Get", ""))
        if match is None:
            raise ConditionError(f"not a property file reference: {reference!r}")
        step, name = match.groups()
        declared = {
            f["PropertyFileName"]: f for f in self.steps.get(step, {}).get("PropertyFiles", [])
        }
        if name not in declared:
            raise ConditionError(f"step {step!r} declares no property file {name!r}")
        return self.property_files[declared[name]["FilePath"]]


def _json_path(document: Any, path: str) -> Any:
    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        try:
            document = document[key] if key else document[int(index)]
        except (KeyError, IndexError, TypeError) as exc:
            raise ConditionError(f"{path!r} not in the property file") from exc
    return document
