"""The labels a result card offers in its "wrong? tell us" drop-down.

A full page (the no-JavaScript path) lists every label of the model, as a form that
works on its own must. A card fetched by the script lists only the model's top
answers and the current correction: with 1,000 ImageNet classes the full list is 59 KB
of HTML, which the script fetches once per model version and language instead
(`label_options`, cached by the browser) and fills in.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.classification import ClassificationRecord, LabelInfo

__all__ = ["Choice", "full_choices", "short_choices"]


@dataclass(frozen=True)
class Choice:
    """One option: the label sent back and the name shown."""

    label: str
    name: str


def full_choices(labels: list[LabelInfo]) -> list[Choice]:
    """Every label of the model, in the model's order."""
    return [Choice(info.label, info.display_name) for info in labels]


def short_choices(record: ClassificationRecord, labels: list[LabelInfo] | None) -> list[Choice]:
    """The record's top answers, then its correction if that is not one of them; the
    correction's name comes from `labels` when web holds them, else the label itself."""
    chosen = [Choice(item.label, item.display_name) for item in record.top_k]
    correction = record.feedback_label
    if correction and all(choice.label != correction for choice in chosen):
        names = {info.label: info.display_name for info in labels or []}
        chosen.append(Choice(correction, names.get(correction, correction)))
    return chosen
