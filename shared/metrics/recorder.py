"""`Metrics`: one service's metrics, in its own Prometheus registry and (on AWS) its EMF
buffer.

Each aiohttp application owns one `Metrics`, so the four services of `kkot run` (one
process) keep separate families: prometheus_client's global registry would refuse the
second service's `kkot_http_requests` and mix their figures. Recording is synchronous
and cheap (a dict lookup and a lock-free add on the event loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from shared.metrics.catalog import MetricDef
from shared.metrics.emf import EmfBuffer

__all__ = ["Metrics"]


class Metrics:
    """The families of `definitions` for `service`; `emf`, when given, sees every value."""

    def __init__(
        self, service: str, definitions: Iterable[MetricDef], *, emf: EmfBuffer | None = None
    ) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.emf = emf
        self._families: dict[str, MetricWrapperBase] = {
            d.name: _family(d, self.registry) for d in definitions
        }
        self._info: dict[str, tuple[str, ...]] = {}
        # Children by (family, label values): prometheus_client's `labels()` validates
        # and locks on every call, a cost paid here once per series instead.
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, definition: MetricDef, labels: Mapping[str, str]) -> Any:
        key = (definition.name, *(labels[name] for name in definition.labels))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._families[definition.name].labels(**labels)
        return child

    def count(self, definition: MetricDef, labels: Mapping[str, str], amount: float = 1.0) -> None:
        """Add `amount` to a counter."""
        assert definition.kind == "counter"
        self._child(definition, labels).inc(amount)
        if self.emf is not None:
            self.emf.add(definition, labels, amount)

    def observe(self, definition: MetricDef, labels: Mapping[str, str], value: float) -> None:
        """Add one observation to a histogram."""
        assert definition.kind == "histogram"
        self._child(definition, labels).observe(value)
        if self.emf is not None:
            self.emf.add(definition, labels, value)

    def set_info(self, definition: MetricDef, labels: Mapping[str, str]) -> None:
        """Make `labels` the one current value of an info gauge (1), dropping the last."""
        family = self._families[definition.name]
        assert isinstance(family, Gauge)
        values = tuple(labels[name] for name in definition.labels)
        previous = self._info.get(definition.name)
        if previous is not None and previous != values:
            family.remove(*previous)
            self._children.pop((definition.name, *previous), None)
        family.labels(**labels).set(1)
        self._info[definition.name] = values

    def watch(self, definition: MetricDef, read: Callable[[], float]) -> None:
        """Make an unlabelled gauge read its value from `read` at each scrape."""
        family = self._families[definition.name]
        assert isinstance(family, Gauge) and not definition.labels
        family.set_function(read)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def _family(definition: MetricDef, registry: CollectorRegistry) -> MetricWrapperBase:
    args = (definition.name, definition.help, definition.labels)
    if definition.kind == "counter":
        return Counter(*args, registry=registry)
    if definition.kind == "gauge":
        return Gauge(*args, registry=registry)
    return Histogram(*args, registry=registry, buckets=definition.buckets)
