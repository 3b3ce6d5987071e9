"""hyperparameters.json as SageMaker writes it: every value a string."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.model.train.errors import HyperparameterError
from services.model.train.hyperparameters import Hyperparameters, load_hyperparameters


def test_string_values_are_parsed_into_types(tmp_path: Path) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text(
        json.dumps(
            {
                "epochs": "50",
                "learning_rate": "0.003",
                "l2_penalty": "0.1",
                "flip_augment": "false",
                "seed": "7",
                "validation_fraction": "0.25",
                "sagemaker_program": "train",  # SageMaker's own keys are ignored
            }
        )
    )
    hp = load_hyperparameters(path)
    assert (hp.epochs, hp.learning_rate, hp.l2_penalty) == (50, 0.003, 0.1)
    assert hp.flip_augment is False
    assert (hp.seed, hp.validation_fraction) == (7, 0.25)
    assert hp.min_images_per_class == Hyperparameters().min_images_per_class


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_hyperparameters(tmp_path / "absent.json") == Hyperparameters()


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"epochz": "5"}, "epochz"),
        ({"epochs": "many"}, "epochs"),
        ({"validation_fraction": "1.5"}, "validation_fraction"),
        ({"cv_folds": "1"}, "cv_folds must be 0"),
    ],
)
def test_bad_hyperparameters_are_named(tmp_path: Path, raw: dict[str, str], needle: str) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(HyperparameterError, match=needle):
        load_hyperparameters(path)


def test_overrides_apply_only_given_values() -> None:
    hp = Hyperparameters(epochs=10).with_overrides(seed=3, epochs=None)
    assert (hp.epochs, hp.seed) == (10, 3)
