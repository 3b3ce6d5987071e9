"""Emulator-only template preparation: what moto's CloudFormation cannot run, rewritten
into what it can, applied to the TemplateBody a command sends (never to what
`generate-templates` writes).

moto skips resource types it does not model, cannot evaluate `Fn::Cidr`, resolves
`Ref` of an EventBridge bus to an object instead of its name, and fails on `Fn::GetAtt`
of a resource it skipped. Each rule below removes one of those gaps; everything else
in the template reaches moto unchanged.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from moto.cloudformation.parsing import get_model_map

__all__ = ["prepare_for_moto"]

ACCOUNT = "123456789012"
REGION = "us-east-1"
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")


def prepare_for_moto(body: str) -> str:
    """The template text with moto's gaps worked around (see the module docstring):
    resources of types moto does not model are left out and references to them become
    literals; `Fn::Cidr` is evaluated on the VPC range; `Ref` of an event bus becomes
    its name."""
    template: dict[str, Any] = json.loads(body)
    modelled = get_model_map()
    resources: dict[str, Any] = template["Resources"]
    stand_ins = {
        logical: resource["Type"]
        for logical, resource in resources.items()
        if resource["Type"] not in modelled
    }
    for logical in stand_ins:
        del resources[logical]
    bus_names = {
        logical: resource["Properties"]["Name"]
        for logical, resource in resources.items()
        if resource["Type"] == "AWS::Events::EventBus"
    }
    vpc_cidr = template.get("Parameters", {}).get("VpcCidr", {}).get("Default", "10.0.0.0/16")
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d not in stand_ins]
        elif isinstance(depends, str) and depends in stand_ins:
            del resource["DependsOn"]
    rewritten = _rewrite(template, stand_ins, bus_names, vpc_cidr)
    return json.dumps(rewritten, separators=(",", ":"))


def _literal(logical: str, kind: str, attribute: str | None) -> str:
    """What stands in for `Ref` (a name) or `Fn::GetAtt` (an ARN or a value) of a
    resource moto does not create."""
    if attribute is None:
        return f"kkot-emulated-{logical}"
    if attribute.endswith("Arn"):
        service = kind.split("::")[1].lower()
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{logical.lower()}/kkot-emulated-{logical}"
    return f"kkot-emulated-{logical}-{attribute}"


def _rewrite(node: Any, stand_ins: dict[str, str], buses: dict[str, Any], vpc_cidr: str) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, stand_ins, buses, vpc_cidr) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref" and value in stand_ins:
            return _literal(value, stand_ins[value], None)
        if key == "Ref" and value in buses:
            return _rewrite(buses[value], stand_ins, buses, vpc_cidr)
        if key == "Fn::GetAtt" and value[0] in stand_ins:
            return _literal(value[0], stand_ins[value[0]], value[1])
        if key == "Fn::Cidr":
            _, count, bits = value
            network = ipaddress.ip_network(vpc_cidr)
            subnets = network.subnets(new_prefix=network.max_prefixlen - int(bits))
            return [str(next(subnets)) for _ in range(int(count))]
        if key == "Fn::Sub":
            return {key: _rewrite_sub(value, stand_ins, buses, vpc_cidr)}
    return {k: _rewrite(v, stand_ins, buses, vpc_cidr) for k, v in node.items()}


def _rewrite_sub(
    value: Any, stand_ins: dict[str, str], buses: dict[str, Any], vpc_cidr: str
) -> Any:
    text, mapping = (value, {}) if isinstance(value, str) else value

    def replace(match: re.Match[str]) -> str:
        logical, attribute = match.group(1), match.group(2)
        if logical in stand_ins and logical not in mapping:
            return _literal(logical, stand_ins[logical], attribute)
        return match.group(0)

    text = _SUB_REF.sub(replace, text)
    mapping = {k: _rewrite(v, stand_ins, buses, vpc_cidr) for k, v in mapping.items()}
    return [text, mapping] if mapping else text
