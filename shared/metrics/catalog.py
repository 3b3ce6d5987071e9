"""Every metric kkot records, defined once.

A `MetricDef` names a Prometheus family (its type, help text, labels and buckets) and,
beside it, how the same figure reaches CloudWatch through embedded-metric-format log
lines: the CloudWatch metric name, its unit and the dimension sets it is published
under. `/metrics`, the EMF lines, the templates' alarms and the dashboard all read
these definitions, so a name or a dimension cannot differ between them.

Labels are bounded by construction: routes are templates (`/api/v1/classifications/{id}`),
methods a fixed set, statuses HTTP codes, consumers and model versions few.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BUS_DEAD_LETTERS",
    "BUS_EVENTS",
    "BUS_LAG",
    "BUS_METRICS",
    "CATALOG",
    "DIMENSION_NAMES",
    "HTTP_DURATION",
    "HTTP_METRICS",
    "HTTP_REQUESTS",
    "MODEL_BATCH_SIZE",
    "MODEL_INFERENCE",
    "MODEL_INFO",
    "MODEL_METRICS",
    "MODEL_QUEUE_DEPTH",
    "MODEL_QUEUE_WAIT",
    "CloudWatchMetric",
    "MetricDef",
    "cloudwatch_dimensions",
    "find_cloudwatch",
]

Kind = Literal["counter", "histogram", "gauge"]
# The CloudWatch units these metrics use (a subset of the EMF specification's list).
Unit = Literal["Count", "Seconds", "None"]

# Prometheus label -> CloudWatch dimension (and EMF property) name. `service` is not a
# Prometheus label (each service has its own /metrics) but is on every EMF record;
# `status_class` is derived from `status` for alarms on "any 5xx".
DIMENSION_NAMES: Mapping[str, str] = {
    "service": "Service",
    "route": "Route",
    "method": "Method",
    "status": "Status",
    "status_class": "StatusClass",
    "model": "Model",
    "model_version": "ModelVersion",
    "consumer": "Consumer",
    "event_type": "EventType",
    "outcome": "Outcome",
}


@dataclass(frozen=True)
class CloudWatchMetric:
    """How a figure is published to CloudWatch: name, unit, and dimension sets (tuples
    of label names from `DIMENSION_NAMES`; every set starts with `service`)."""

    name: str
    unit: Unit
    dimension_sets: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class MetricDef:
    """One metric family: Prometheus shape, plus its CloudWatch twin (None: local only)."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    cloudwatch: CloudWatchMetric | None = None
    buckets: tuple[float, ...] = field(default=())


_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SERVICE_SETS = (("service",), ("service", "status_class"), ("service", "route"))

HTTP_REQUESTS = MetricDef(
    "kkot_http_requests",
    "counter",
    "HTTP requests answered, by route template, method and status",
    ("route", "method", "status"),
    CloudWatchMetric("Requests", "Count", _SERVICE_SETS),
)
HTTP_DURATION = MetricDef(
    "kkot_http_request_duration_seconds",
    "histogram",
    "Time from a request's arrival to its answer (whole stream for server-sent events)",
    ("route", "method", "status"),
    CloudWatchMetric("Latency", "Seconds", _SERVICE_SETS),
    _LATENCY_BUCKETS,
)
MODEL_BATCH_SIZE = MetricDef(
    "kkot_model_batch_size",
    "histogram",
    "Images per ONNX Runtime call (one observation per call)",
    ("model_version",),
    CloudWatchMetric("BatchSize", "Count", (("service",), ("service", "model_version"))),
    (1, 2, 4, 8, 16, 32, 64, 128, 256),
)
MODEL_QUEUE_WAIT = MetricDef(
    "kkot_model_queue_wait_seconds",
    "histogram",
    "Time a preprocessed image waited for its batch to start",
    ("model_version",),
    CloudWatchMetric("QueueWait", "Seconds", (("service",), ("service", "model_version"))),
    (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
MODEL_INFERENCE = MetricDef(
    "kkot_model_inference_seconds",
    "histogram",
    "Duration of one ONNX Runtime call (one observation per call)",
    ("model_version",),
    CloudWatchMetric("InferenceTime", "Seconds", (("service",), ("service", "model_version"))),
    (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
MODEL_QUEUE_DEPTH = MetricDef(
    "kkot_model_queue_depth",
    "gauge",
    "Requests in the model server's batcher right now: decoding or waiting for a batch",
    (),
)
MODEL_INFO = MetricDef(
    "kkot_model_info",
    "gauge",
    "The model being served: 1 for its name and version",
    ("model", "model_version"),
)
BUS_LAG = MetricDef(
    "kkot_bus_delivery_lag_seconds",
    "histogram",
    "Time from an event's publication to its consumer's handler starting",
    ("consumer", "event_type"),
    CloudWatchMetric("BusLag", "Seconds", (("service",), ("service", "consumer"))),
    (0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)
BUS_EVENTS = MetricDef(
    "kkot_bus_events",
    "counter",
    "Events a consumer handled, by outcome (ok, or error: retried or dead-lettered)",
    ("consumer", "event_type", "outcome"),
    CloudWatchMetric("BusEvents", "Count", (("service", "consumer"),)),
)
BUS_DEAD_LETTERS = MetricDef(
    "kkot_bus_dead_letters",
    "counter",
    "Events a consumer gave up on (the dead-letter store or queue has them)",
    ("consumer", "event_type"),
    CloudWatchMetric("DeadLetters", "Count", (("service",), ("service", "consumer"))),
)

HTTP_METRICS = (HTTP_REQUESTS, HTTP_DURATION)
MODEL_METRICS = (
    MODEL_BATCH_SIZE,
    MODEL_QUEUE_WAIT,
    MODEL_INFERENCE,
    MODEL_QUEUE_DEPTH,
    MODEL_INFO,
)
BUS_METRICS = (BUS_LAG, BUS_EVENTS, BUS_DEAD_LETTERS)
CATALOG = (*HTTP_METRICS, *MODEL_METRICS, *BUS_METRICS)


def find_cloudwatch(name: str) -> MetricDef:
    """The definition published to CloudWatch as `name` (KeyError when none is)."""
    for definition in CATALOG:
        if definition.cloudwatch is not None and definition.cloudwatch.name == name:
            return definition
    raise KeyError(name)


def cloudwatch_dimensions(labels: tuple[str, ...]) -> tuple[str, ...]:
    """CloudWatch dimension names for label names."""
    return tuple(DIMENSION_NAMES[label] for label in labels)
