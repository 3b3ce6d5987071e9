"""A checker for CloudWatch embedded-metric-format (EMF) records, written from the
specification (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html): the structure as a JSON Schema,
then the rules a schema cannot say (every referenced dimension and metric is a root
member of the right type)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

# The units a MetricDefinition may name.
UNITS = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
]

_NAME = {"type": "string", "minLength": 1, "maxLength": 1024}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 1024,
                                "pattern": r"^[^:].*$",
                            },
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": _NAME,
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                    "additionalProperties": False,
                                },
                            },
                        },
                        "additionalProperties": False,
                    },
                },
            },
        }
    },
}


def assert_valid_emf(record: dict[str, Any]) -> None:
    """Raise AssertionError (or jsonschema's ValidationError) unless `record` is a valid
    EMF document whose every target member is present with the right type."""
    jsonschema.validate(record, SCHEMA)
    # A log event is one JSON object of at most 1 MB.
    assert len(json.dumps(record).encode()) < 1_000_000
    for directive in record["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                value = record.get(key)
                assert isinstance(value, str), f"dimension {key!r} is not a root string member"
                assert 0 < len(value) <= 1024 and value.strip(), f"dimension {key!r}: {value!r}"
        for metric in directive["Metrics"]:
            value = record.get(metric["Name"])
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100, f"{metric['Name']}: {len(values)} values"
            for number in values:
                assert isinstance(number, int | float) and not isinstance(number, bool), (
                    f"metric {metric['Name']!r} value {number!r} is not a number"
                )


def emf_records(text: str) -> list[dict[str, Any]]:
    """The EMF records among JSON log lines (lines that are not JSON are skipped)."""
    records = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "_aws" in parsed:
            records.append(parsed)
    return records
