"""Parameters, conditions and metadata helpers every stack uses."""

from __future__ import annotations

from troposphere import Equals, Parameter, Ref, Template

from cfn.naming import STAGES

__all__ = [
    "IS_PRODUCTION",
    "add_is_production",
    "add_stage",
    "checkov_skips",
    "new_template",
]

IS_PRODUCTION = "IsProduction"


def new_template(description: str) -> Template:
    """A template with the `Stage` parameter."""
    t = Template(Description=description)
    t.set_version("2010-09-09")
    add_stage(t)
    return t


def add_stage(t: Template) -> Parameter:
    """The `Stage` parameter (staging|production)."""
    stage = t.add_parameter(
        Parameter(
            "Stage",
            Type="String",
            AllowedValues=list(STAGES),
            Default="staging",
            Description="Deployment stage; names and exports are prefixed with it",
        )
    )
    return stage


def add_is_production(t: Template) -> str:
    """Add (once) the `IsProduction` condition for stacks whose defaults differ by stage."""
    if IS_PRODUCTION not in t.conditions:
        t.add_condition(IS_PRODUCTION, Equals(Ref("Stage"), "production"))
    return IS_PRODUCTION


def checkov_skips(*skips: tuple[str, str]) -> dict[str, object]:
    """Resource Metadata that skips checkov checks, each with the reason it does not apply."""
    return {"checkov": {"skip": [{"id": check, "comment": reason} for check, reason in skips]}}
