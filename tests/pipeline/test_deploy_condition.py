"""The deploy condition exists once: `kkot pipeline run` and the SageMaker pipeline
definition decide alike on the same table of cases."""

from __future__ import annotations

import json

import pytest

from cfn.sagemaker_pipeline import pipeline_definition
from services.pipeline.condition import decide
from services.pipeline.summary import BaselineSummary
from shared.deploy_condition import BOUND_DEFAULTS, Bound
from tests.sagemaker_conditions import ConditionError, branch_of

# (held-out accuracy, threshold, deployed model's accuracy or None: nothing deployed)
CASES = [
    (0.95, 0.90, None),
    (0.90, 0.90, None),  # exactly at the threshold passes
    (0.8999, 0.90, None),
    (0.95, 0.90, 0.94),
    (0.95, 0.90, 0.95),  # a tie with the deployed model passes
    (0.95, 0.90, 0.9501),
    (0.85, 0.90, 0.80),  # better than deployed, but under the threshold
    (0.0, 0.0, None),
    (1.0, 1.0, 1.0),
    (0.5, 0.25, 0.0),
]


def _baseline(deployed: float | None, accuracy: float) -> BaselineSummary:
    if deployed is None:
        return BaselineSummary(source="none", version=None, accuracy=None, note="nothing")
    # On SageMaker the baseline is the deployed model's accuracy on the same evaluation
    # images, so the new model's figure on them is its accuracy.
    return BaselineSummary(
        source="registry",
        version="1",
        accuracy=deployed,
        new_accuracy=accuracy,
        images=40,
        note="same images",
    )


def _sagemaker_passes(accuracy: float, threshold: float, deployed: float | None) -> bool:
    definition = json.loads(pipeline_definition())
    # An execution passes parameters as strings; a missing one takes its default.
    parameters = {"AccuracyThreshold": str(threshold)}
    if deployed is not None:
        parameters["BaselineAccuracy"] = str(deployed)
    branch = branch_of(
        definition, "AccuracyCheck", parameters, {"evaluation.json": {"accuracy": accuracy}}
    )
    assert branch in (["Register"], ["AccuracyTooLow"])
    return branch == ["Register"]


@pytest.mark.parametrize(("accuracy", "threshold", "deployed"), CASES)
def test_the_local_pipeline_and_the_sagemaker_pipeline_decide_alike(
    accuracy: float, threshold: float, deployed: float | None
) -> None:
    local = decide(accuracy, threshold, _baseline(deployed, accuracy))
    expected = accuracy >= threshold and (deployed is None or accuracy >= deployed)
    assert local.passed is expected
    assert _sagemaker_passes(accuracy, threshold, deployed) is expected


def test_a_failed_check_says_which_bound_and_by_how_much() -> None:
    local = decide(0.85, 0.90, _baseline(0.88, 0.85))
    assert local.reasons == [
        "accuracy 0.8500 < threshold 0.9000",
        "accuracy 0.8500 < deployed 1 0.8800 on the same 40 held-out images",
    ]


def test_locally_the_deployed_model_is_compared_on_the_images_both_held_out() -> None:
    # 0.95 overall, but 0.80 on the 40 images the deployed model also never saw.
    baseline = BaselineSummary(
        source="registry",
        version="3",
        accuracy=0.85,
        new_accuracy=0.80,
        images=40,
        note="same 40 evaluation images",
    )
    local = decide(0.95, 0.90, baseline)
    assert not local.passed
    assert local.reasons == ["accuracy 0.8000 < deployed 3 0.8500 on the same 40 held-out images"]


def test_the_sagemaker_parameters_default_to_the_rules_bounds() -> None:
    declared = {p["Name"]: p for p in json.loads(pipeline_definition())["Parameters"]}
    for bound, default in BOUND_DEFAULTS.items():
        assert declared[bound.value] == {
            "Name": bound.value,
            "Type": "Float",
            "DefaultValue": default,
        }
    # With no execution values at all the defaults decide: 0.85 and nothing deployed.
    assert _sagemaker_passes_defaults(0.85) and not _sagemaker_passes_defaults(0.8499)
    assert BOUND_DEFAULTS[Bound.ACCURACY_THRESHOLD] == 0.85


def _sagemaker_passes_defaults(accuracy: float) -> bool:
    definition = json.loads(pipeline_definition())
    branch = branch_of(definition, "AccuracyCheck", {}, {"evaluation.json": {"accuracy": accuracy}})
    return branch == ["Register"]


def test_the_interpreter_refuses_what_sagemaker_would() -> None:
    definition = json.loads(pipeline_definition())
    with pytest.raises(ConditionError):
        branch_of(definition, "AccuracyCheck", {}, {"evaluation.json": {"acc": 0.9}})
    with pytest.raises(ConditionError):
        branch_of(definition, "Train", {}, {})
