"""The deploy condition, written once: what a new model must pass to be registered as
deployable.

It is a list of checks, each "a figure of the new model's evaluation compared with a
bound". Two places use it and cannot drift, since both are generated from `CONDITION`:

- `kkot pipeline run` decides with `failed_checks(figures, bounds)`;
- the SageMaker pipeline definition (cfn/sagemaker_pipeline.py) puts
  `sagemaker_conditions(...)` into its ConditionStep, and declares the bounds as
  pipeline parameters with `BOUND_DEFAULTS` as their default values.

The figures: `accuracy` is the new model's held-out accuracy; `compared_accuracy` its
accuracy on the images the deployed model's accuracy (the `BaselineAccuracy` bound) was
measured on. Locally those can be a subset (the evaluation images the deployed model did
not train on); on SageMaker the baseline is the deployed package's recorded accuracy on
the same `validation` channel, so both figures are the evaluation report's `accuracy`.
With no deployed model the baseline bound keeps its default, 0.0, which every accuracy
passes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "BOUND_DEFAULTS",
    "CONDITION",
    "Bound",
    "Check",
    "Comparison",
    "Figure",
    "failed_checks",
    "sagemaker_conditions",
]


class Figure(StrEnum):
    """A figure of the new model's evaluation (the left side of a check)."""

    ACCURACY = "accuracy"
    COMPARED_ACCURACY = "compared_accuracy"


class Bound(StrEnum):
    """A bound a figure is compared with (the right side); named as the SageMaker
    pipeline's parameters, which carry them there."""

    ACCURACY_THRESHOLD = "AccuracyThreshold"
    BASELINE_ACCURACY = "BaselineAccuracy"


class Comparison(StrEnum):
    """SageMaker Pipelines' comparison condition types, spelled the same."""

    GREATER_THAN_OR_EQUAL_TO = "GreaterThanOrEqualTo"
    GREATER_THAN = "GreaterThan"
    EQUALS = "Equals"
    LESS_THAN = "LessThan"
    LESS_THAN_OR_EQUAL_TO = "LessThanOrEqualTo"


_OPERATORS: dict[Comparison, Callable[[Any, Any], bool]] = {
    Comparison.GREATER_THAN_OR_EQUAL_TO: operator.ge,
    Comparison.GREATER_THAN: operator.gt,
    Comparison.EQUALS: operator.eq,
    Comparison.LESS_THAN: operator.lt,
    Comparison.LESS_THAN_OR_EQUAL_TO: operator.le,
}
_SYMBOLS = {
    Comparison.GREATER_THAN_OR_EQUAL_TO: ">=",
    Comparison.GREATER_THAN: ">",
    Comparison.EQUALS: "==",
    Comparison.LESS_THAN: "<",
    Comparison.LESS_THAN_OR_EQUAL_TO: "<=",
}

_FAILURE_SYMBOLS = {
    Comparison.GREATER_THAN_OR_EQUAL_TO: "<",
    Comparison.GREATER_THAN: "<=",
    Comparison.EQUALS: "!=",
    Comparison.LESS_THAN: ">=",
    Comparison.LESS_THAN_OR_EQUAL_TO: ">",
}


class Check(BaseModel):
    """One comparison: `figure <comparison> bound`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    figure: Figure
    comparison: Comparison
    bound: Bound

    def passes(self, figure: float, bound: float) -> bool:
        """Does the check hold for these values?"""
        return _OPERATORS[self.comparison](figure, bound)

    @property
    def failure_symbol(self) -> str:
        """The comparison that holds when the check fails, e.g. "<" for ">="."""
        return _FAILURE_SYMBOLS[self.comparison]

    def as_text(self) -> str:
        """The check as a person reads it, e.g. "accuracy >= AccuracyThreshold"."""
        return f"{self.figure.value} {_SYMBOLS[self.comparison]} {self.bound.value}"


# Every check must hold. Above the threshold, and not worse than the deployed model.
CONDITION: tuple[Check, ...] = (
    Check(
        figure=Figure.ACCURACY,
        comparison=Comparison.GREATER_THAN_OR_EQUAL_TO,
        bound=Bound.ACCURACY_THRESHOLD,
    ),
    Check(
        figure=Figure.COMPARED_ACCURACY,
        comparison=Comparison.GREATER_THAN_OR_EQUAL_TO,
        bound=Bound.BASELINE_ACCURACY,
    ),
)

# A bound nobody gave. The SageMaker pipeline's parameters default to these too;
# `kkot pipeline run` always passes its own threshold (PipelineSettings.min_accuracy).
BOUND_DEFAULTS: dict[Bound, float] = {
    Bound.ACCURACY_THRESHOLD: 0.85,
    Bound.BASELINE_ACCURACY: 0.0,
}

# Where each figure is read in the evaluation report (shared.contracts.model.Evaluation)
# on SageMaker, where the compared images are the evaluation images (see above).
EVALUATION_PATHS: dict[Figure, str] = {
    Figure.ACCURACY: "accuracy",
    Figure.COMPARED_ACCURACY: "accuracy",
}


def failed_checks(
    figures: Mapping[Figure, float],
    bounds: Mapping[Bound, float],
    condition: tuple[Check, ...] = CONDITION,
) -> list[tuple[Check, float, float]]:
    """The checks of `condition` that fail, each with its figure and bound values.

    A bound missing from `bounds` takes its BOUND_DEFAULTS value, as a SageMaker
    pipeline parameter takes its default; an empty list means the condition passes.
    """
    failed = []
    for check in condition:
        figure = figures[check.figure]
        bound = bounds.get(check.bound, BOUND_DEFAULTS[check.bound])
        if not check.passes(figure, bound):
            failed.append((check, figure, bound))
    return failed


def sagemaker_conditions(
    property_file: str, step: str, condition: tuple[Check, ...] = CONDITION
) -> list[dict[str, Any]]:
    """The `Conditions` of a SageMaker ConditionStep (all must hold) for `condition`:
    each figure read with JsonGet from `step`'s property file, each bound a parameter."""
    return [
        {
            "Type": check.comparison.value,
            "LeftValue": {
                "Std:JsonGet": {
                    "PropertyFile": {"Get": f"Steps.{step}.PropertyFiles.{property_file}"},
                    "Path": EVALUATION_PATHS[check.figure],
                }
            },
            "RightValue": {"Get": f"Parameters.{check.bound.value}"},
        }
        for check in condition
    ]
