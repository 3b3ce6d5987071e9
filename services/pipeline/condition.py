"""The deploy condition on one run: shared.deploy_condition's checks with this run's
figures and bounds, and the reasons a person reads when a check fails.

The rule itself is not here: the SageMaker pipeline definition is generated from the
same `shared.deploy_condition.CONDITION`.
"""

from __future__ import annotations

from services.pipeline.summary import BaselineSummary, ConditionSummary
from shared.deploy_condition import Bound, Check, Figure, failed_checks

__all__ = ["decide"]


def decide(accuracy: float, min_accuracy: float, baseline: BaselineSummary) -> ConditionSummary:
    """Does the new model (held-out `accuracy`) pass, against `min_accuracy` and the
    deployed model where there is a fair baseline?"""
    figures = {Figure.ACCURACY: accuracy, Figure.COMPARED_ACCURACY: accuracy}
    bounds = {Bound.ACCURACY_THRESHOLD: min_accuracy}
    if baseline.accuracy is not None and baseline.new_accuracy is not None:
        figures[Figure.COMPARED_ACCURACY] = baseline.new_accuracy
        bounds[Bound.BASELINE_ACCURACY] = baseline.accuracy
    # Without a fair baseline its bound keeps the default (0.0), as on SageMaker.
    failed = failed_checks(figures, bounds)
    return ConditionSummary(
        passed=not failed,
        min_accuracy=min_accuracy,
        reasons=[_reason(check, figure, bound, baseline) for check, figure, bound in failed],
        baseline=baseline,
    )


def _reason(check: Check, figure: float, bound: float, baseline: BaselineSummary) -> str:
    if check.bound is Bound.BASELINE_ACCURACY:
        against = (
            f"deployed {baseline.version} {bound:.4f} on the same {baseline.images} held-out images"
        )
    else:
        against = f"threshold {bound:.4f}"
    return f"accuracy {figure:.4f} {check.failure_symbol} {against}"
