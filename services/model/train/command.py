"""`kkot train` and the container's `train`: the training job's command line.

`run_job(args)` runs one job from parsed flags. Exit 0 with the artifact in the model
dir; on failure the reason goes to `<output_dir>/failure` (SageMaker shows it as the
job's FailureReason) and the exit code is 1 (a problem with the data or
hyperparameters) or 2 (anything unexpected).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from services.model.train.errors import TrainingError
from services.model.train.hyperparameters import load_hyperparameters
from services.model.train.settings import TrainSettings
from shared.logging import get_logger

__all__ = ["add_train_arguments", "run_job", "settings_from_args"]

_FAILURE_LIMIT = 1024  # SageMaker keeps the first 1024 characters of the reason
_DEFAULT_FAILURE_FILE = Path("/opt/ml/output/failure")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that override TrainSettings and hyperparameters."""
    parser.add_argument("--data", type=Path, help="image folder (default: train channel)")
    parser.add_argument("--eval-data", type=Path, help="held-out image folder")
    parser.add_argument("--model-dir", type=Path, help="where the artifact goes")
    parser.add_argument("--output-dir", type=Path, help="where `failure` goes")
    parser.add_argument("--hyperparameters", type=Path, help="hyperparameters.json")
    parser.add_argument("--labels", type=Path, help="expected labels (labels.json or lines)")
    parser.add_argument("--overrides", type=Path, help="reviewed label_overrides.json")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--cv-folds", type=int, help="0 = one hold-out split (default 5)")


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    """TrainSettings from the environment, with the flags that were given on top."""
    overrides: dict[str, Any] = {}
    for flag, name in (
        ("data", "data_dir"),
        ("eval_data", "eval_dir"),
        ("model_dir", "model_dir"),
        ("output_dir", "output_dir"),
        ("hyperparameters", "hyperparameters_file"),
        ("labels", "labels_file"),
        ("overrides", "overrides_file"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[name] = value
    return TrainSettings(**overrides)


def run_job(args: argparse.Namespace) -> int:
    """Run the job the flags describe; write the failure file on error."""
    # Imported here, not at the top: `kkot`'s parser adds these flags in every image,
    # and only the training image has the stack a job needs (Pillow, ONNX Runtime, torch).
    from services.model.train.job import run_training

    log = get_logger("kkot.train")
    # Until the settings are read, the failure file is SageMaker's default one: a job whose
    # paths are misconfigured must still leave its reason behind.
    failure_file = _DEFAULT_FAILURE_FILE
    try:
        settings = settings_from_args(args)
        failure_file = settings.failure_file
        hp = load_hyperparameters(settings.hyperparameters_file).with_overrides(
            epochs=getattr(args, "epochs", None),
            seed=getattr(args, "seed", None),
            cv_folds=getattr(args, "cv_folds", None),
        )
        result = run_training(settings, hp)
    except TrainingError as exc:
        _write_failure(failure_file, str(exc))
        log.error("training_failed", reason=str(exc), failure_file=str(failure_file))
        return 1
    except Exception as exc:  # the job must always leave a reason behind
        _write_failure(failure_file, f"unexpected error: {type(exc).__name__}: {exc}")
        log.exception("training_crashed", failure_file=str(failure_file))
        return 2
    log.info(
        "training_finished",
        model_dir=str(result.model_dir),
        accuracy=round(result.evaluation.accuracy, 4),
        timings=result.timings,
    )
    return 0


def _write_failure(path: Path, reason: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(reason[:_FAILURE_LIMIT], encoding="utf-8")
    except OSError:
        get_logger("kkot.train").exception("failure_file_not_written", path=str(path))
