"""Names shared by every stack: stack names, export names, stage-scoped resource names.

Keeping these in one place is what lets one stack import another's outputs: the
exporting and the importing side build the export name with the same function.
"""

from __future__ import annotations

from troposphere import Export, ImportValue, Output, Sub, Template

__all__ = [
    "PROJECT",
    "STAGES",
    "add_export",
    "export_name",
    "import_value",
    "scoped",
    "stack_name",
]

PROJECT = "kkot"
STAGES = ("staging", "production")


def stack_name(stage: str, stack: str) -> str:
    """The CloudFormation stack name for `stack` in `stage`, e.g. `kkot-staging-network`."""
    return f"{PROJECT}-{stage}-{stack}"


def scoped(suffix: str) -> Sub:
    """A physical name unique per stage: `kkot-${Stage}-<suffix>`."""
    return Sub(f"{PROJECT}-${{Stage}}-{suffix}")


def export_name(stack: str, key: str, stage: str | None = None) -> Sub | str:
    """The export name of output `key` of `stack`, prefixed by the template's stage, or
    by `stage` when a stack reads another stage's exports (the delivery stack)."""
    if stage is not None:
        return f"{PROJECT}-{stage}-{stack}-{key}"
    return Sub(f"{PROJECT}-${{Stage}}-{stack}-{key}")


def import_value(stack: str, key: str, stage: str | None = None) -> ImportValue:
    """`Fn::ImportValue` of an output that `stack` exported with `add_export` (in the
    template's stage, or in `stage`)."""
    return ImportValue(export_name(stack, key, stage))


def add_export(t: Template, stack: str, key: str, value: object, description: str) -> Output:
    """Add output `key` exported under the stage-prefixed name other stacks import."""
    return t.add_output(
        Output(key, Description=description, Value=value, Export=Export(export_name(stack, key)))
    )
