"""The emulator-only preparation of a generated template before moto deploys it.

The generator writes the template for AWS and is never bent for the emulator; what moto
cannot take is worked around HERE, on a copy, and each workaround is a thing the
emulator does not prove (the README lists them):

- `Ref` of an `AWS::Events::EventBus` (moto answers a 500): replaced by the bus's name,
  which the template sets itself.
- Buckets get fixed names (`kkot-<stage>-images`, ...): CloudFormation would generate
  them, and containers (compose) need names they can be configured with before the
  stack exists. On AWS the services read the stack's exports instead.
- Resource types moto's CloudFormation does not create are dropped, with everything
  that refers to them: their behaviour (a KMS alias, a bucket's or queue's resource
  policy) is not emulated anyway.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["BUCKET_NAMES", "UNSUPPORTED_TYPES", "bucket_name", "prepare_for_moto"]

# Logical id -> suffix of the fixed name, `kkot-<stage>-<suffix>`.
BUCKET_NAMES = {
    "ImagesBucket": "images",
    "ModelsBucket": "models",
    "AccessLogBucket": "access-logs",
}
UNSUPPORTED_TYPES = frozenset({"AWS::KMS::Alias", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"})


def bucket_name(stage: str, logical_id: str) -> str:
    """The fixed name the emulator gives a bucket of the stack."""
    return f"kkot-{stage}-{BUCKET_NAMES[logical_id]}"


def prepare_for_moto(template: dict[str, Any], stage: str) -> dict[str, Any]:
    """A copy of `template` that moto's CloudFormation deploys (see the module doc)."""
    prepared = copy.deepcopy(template)
    resources: dict[str, Any] = prepared["Resources"]
    for logical_id in [k for k, r in resources.items() if r["Type"] in UNSUPPORTED_TYPES]:
        del resources[logical_id]
    buses = {
        logical_id: resource["Properties"]["Name"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Events::EventBus"
    }
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::S3::Bucket" and logical_id in BUCKET_NAMES:
            resource.setdefault("Properties", {})["BucketName"] = bucket_name(stage, logical_id)
    prepared["Resources"] = _replace_refs(resources, buses)
    outputs = prepared.get("Outputs", {})
    prepared["Outputs"] = {
        key: output
        for key, output in _replace_refs(outputs, buses).items()
        if _refers_only_to(output, set(resources))
    }
    return prepared


def _replace_refs(node: Any, buses: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in buses:
            return copy.deepcopy(buses[node["Ref"]])
        return {key: _replace_refs(value, buses) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_refs(item, buses) for item in node]
    return node


def _refers_only_to(node: Any, logical_ids: set[str]) -> bool:
    """False when `node` refers (Ref / GetAtt) to a resource that was dropped."""
    text = json.dumps(node)
    document = json.loads(text)
    refs: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if "Ref" in item and isinstance(item["Ref"], str):
                refs.append(item["Ref"])
            if "Fn::GetAtt" in item:
                refs.append(item["Fn::GetAtt"][0])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(document)
    return all(ref.startswith("AWS::") or ref in logical_ids or ref == "Stage" for ref in refs)
