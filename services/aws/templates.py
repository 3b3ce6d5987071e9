"""The stacks' CloudFormation templates, generated in-process as request bodies.

The same `cfn` code that `generate-templates` runs builds them; they are sent as compact
JSON, which keeps the largest (delivery) well under CloudFormation's 51,200-byte limit
for an inline TemplateBody, so no bucket is needed before the first stack exists.
"""

from __future__ import annotations

import json
from typing import Any

from services.aws.errors import AwsCommandError

__all__ = ["MAX_TEMPLATE_BODY", "parse_template_body", "template_bodies"]

MAX_TEMPLATE_BODY = 51_200


def template_bodies() -> dict[str, str]:
    """Every stack's template as compact JSON, keyed by stack (`network`, ...)."""
    from cfn.render import render
    from cfn.stacks import build_all

    bodies = {}
    for stack, template in build_all().items():
        body = json.dumps(json.loads(render(template, "json")), separators=(",", ":"))
        if len(body.encode()) > MAX_TEMPLATE_BODY:
            raise AwsCommandError(
                f"the {stack} template is {len(body.encode())} bytes, above CloudFormation's "
                f"{MAX_TEMPLATE_BODY}-byte limit for an inline template"
            )
        bodies[stack] = body
    return bodies


def parse_template_body(body: str | dict[str, Any]) -> dict[str, Any]:
    """A template as data, from what CloudFormation returns (a dict for JSON, text for
    YAML) or from a body this package sends."""
    if isinstance(body, dict):
        return body
    try:
        parsed: dict[str, Any] = json.loads(body)
    except json.JSONDecodeError:
        from cfn_flip import to_json

        parsed = json.loads(to_json(body))
    return parsed
