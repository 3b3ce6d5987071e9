"""CloudWatch embedded metric format (EMF): metrics as JSON log lines.

On AWS the services log JSON to stdout/stderr and the awslogs driver ships each line to
CloudWatch Logs; a line with an `_aws` member is also turned into CloudWatch metrics
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):

    {"_aws": {"Timestamp": <ms>, "CloudWatchMetrics": [{"Namespace": "kkot/staging",
              "Dimensions": [["Service"], ["Service", "StatusClass"]],
              "Metrics": [{"Name": "Requests", "Unit": "Count"}, ...]}]},
     "Service": "gateway", "StatusClass": "2xx", "Route": "...", "Requests": 12,
     "Latency": [0.012, 0.018, ...]}

`EmfBuffer` aggregates what `Metrics` records between flushes, one series per set of
label values: counters as the sum since the last flush, histograms as the observed
values (a series is flushed early when it holds `MAX_VALUES`, the specification's
limit per array). One line per series per interval instead of one per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.metrics.catalog import DIMENSION_NAMES, MetricDef

__all__ = ["MAX_VALUES", "EmfBuffer", "emf_record"]

# The EMF specification allows at most 100 values in one metric's array.
MAX_VALUES = 100

Record = dict[str, Any]


def emf_record(
    namespace: str,
    dimension_sets: list[list[str]],
    units: Mapping[str, str],
    values: Mapping[str, float | list[float]],
    properties: Mapping[str, str],
    timestamp_ms: int | None = None,
) -> Record:
    """One EMF log record: the `_aws` directive, the dimension values as properties and
    every metric's value (a number or an array of numbers) at the root."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": name, "Unit": units[name]} for name in values],
                }
            ],
        },
        **properties,
        **values,
    }


@dataclass
class _Series:
    dimension_sets: list[list[str]]
    properties: dict[str, str]
    units: dict[str, str] = field(default_factory=dict)
    values: dict[str, float | list[float]] = field(default_factory=dict)


class EmfBuffer:
    """Aggregates observations per series; `take()` returns and forgets the records."""

    def __init__(self, service: str, namespace: str, emit: Callable[[Record], None]) -> None:
        self.service = service
        self.namespace = namespace
        self._emit = emit
        self._series: dict[tuple[object, ...], _Series] = {}

    def add(self, definition: MetricDef, labels: Mapping[str, str], value: float) -> None:
        """Record one counter increment (`value`) or histogram observation."""
        cloudwatch = definition.cloudwatch
        if cloudwatch is None:
            return
        # Records share a line when they share dimension sets and label values (the
        # request count and latency of one route and status, say).
        key = (cloudwatch.dimension_sets, tuple(sorted(labels.items())))
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series(cloudwatch.dimension_sets, labels)
        series.units[cloudwatch.name] = cloudwatch.unit
        if definition.kind != "histogram":
            summed = series.values.get(cloudwatch.name, 0.0)
            assert not isinstance(summed, list)
            series.values[cloudwatch.name] = summed + value
            return
        listed = series.values.setdefault(cloudwatch.name, [])
        assert isinstance(listed, list)
        listed.append(value)
        if len(listed) >= MAX_VALUES:
            del self._series[key]
            self._emit(self._record(series))

    def _new_series(
        self, dimension_sets: tuple[tuple[str, ...], ...], labels: Mapping[str, str]
    ) -> _Series:
        properties = {"Service": self.service}
        properties.update({DIMENSION_NAMES[k]: v for k, v in labels.items()})
        if "status" in labels:
            properties["StatusClass"] = labels["status"][:1] + "xx"
        return _Series([[DIMENSION_NAMES[n] for n in s] for s in dimension_sets], properties)

    def take(self) -> list[Record]:
        """Every pending series as one record each; the buffer starts empty again."""
        series, self._series = list(self._series.values()), {}
        return [self._record(s) for s in series]

    def flush(self) -> int:
        """Emit every pending record; returns how many."""
        records = self.take()
        for record in records:
            self._emit(record)
        return len(records)

    def _record(self, series: _Series) -> Record:
        return emf_record(
            self.namespace, series.dimension_sets, series.units, series.values, series.properties
        )
