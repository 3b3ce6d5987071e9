"""Reading a `/metrics` answer in tests with prometheus_client's own text parser."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of an exposition: (name, labels, value)."""
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def value(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 if none)."""
    wanted = dict(labels or {})
    return sum(
        v
        for n, found, v in samples(text)
        if n == name and all(found.get(k) == want for k, want in wanted.items())
    )


def label_values(text: str, name: str, label: str) -> set[str]:
    """The values `label` takes among the samples called `name`."""
    return {found[label] for n, found, _ in samples(text) if n == name and label in found}
