"""Errors of a training job; each message is what goes into /opt/ml/output/failure."""

from __future__ import annotations

__all__ = ["DatasetError", "HyperparameterError", "TrainingError"]


class TrainingError(Exception):
    """A training job failed for a reason a person can act on."""


class DatasetError(TrainingError):
    """The image folder cannot be trained on (too few images, one class, ...)."""


class HyperparameterError(TrainingError):
    """hyperparameters.json holds an unknown key or a value of the wrong type."""
