"""Emulator-only template preparation: what moto's CloudFormation cannot run, rewritten
into what it can, on a copy of the TemplateBody sent to moto (never on what
`generate-templates` writes: the generator is written for AWS and is not bent for the
emulator). Used by `kkot emulator` / `kkot run --aws-emulator` (the data-and-events
stack) and by tests/ops (every stack the operator commands deploy).

Each rule closes one gap, and each is a thing the emulator does not prove (the README
lists them):

- resource types moto does not model (its own model map says which: bucket and queue
  policies, alarms, CodeBuild, ...) are left out; `Ref`, `Fn::GetAtt` and `Fn::Sub`
  references to them become stand-in literals and `DependsOn` on them is dropped;
- `Fn::Cidr` (moto cannot evaluate it) is evaluated on the VPC range;
- `Ref` of an `AWS::Events::EventBus` (moto resolves it to an object, and answers a 500)
  becomes the bus's name, which the template sets itself;
- optionally (`bucket_names`), buckets get fixed names: CloudFormation would generate
  them, and containers need names they can be configured with before the stack exists.
  On AWS the services read the stack's exports instead.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from moto.cloudformation.parsing import get_model_map

from services.emulator.resources import MOTO_ACCOUNT, REGION

__all__ = ["prepare_for_moto"]

_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")


def prepare_for_moto(body: str, *, bucket_names: Mapping[str, str] | None = None) -> str:
    """The template text with moto's gaps worked around (see the module docstring);
    `bucket_names` maps a bucket's logical id to the fixed name it gets."""
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
    for logical, name in (bucket_names or {}).items():
        if resources.get(logical, {}).get("Type") == "AWS::S3::Bucket":
            resources[logical].setdefault("Properties", {})["BucketName"] = name
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
        return (
            f"arn:aws:{service}:{REGION}:{MOTO_ACCOUNT}:{logical.lower()}/kkot-emulated-{logical}"
        )
    return f"kkot-emulated-{logical}-{attribute}"


def _rewrite(node: Any, stand_ins: dict[str, str], buses: dict[str, Any], vpc_cidr: str) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, stand_ins, buses, vpc_cidr) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        rewritten = _rewrite_intrinsic(key, value, stand_ins, buses, vpc_cidr)
        if rewritten is not _KEEP:
            return rewritten
    return {k: _rewrite(v, stand_ins, buses, vpc_cidr) for k, v in node.items()}


# What `_rewrite_intrinsic` answers for a function moto resolves by itself.
_KEEP = object()


def _rewrite_intrinsic(
    key: str, value: Any, stand_ins: dict[str, str], buses: dict[str, Any], vpc_cidr: str
) -> Any:
    """The literal that stands in for one intrinsic function moto cannot resolve, or
    _KEEP."""
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
    return _KEEP


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
