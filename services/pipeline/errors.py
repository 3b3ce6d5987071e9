"""Errors of the pipeline commands; each message is shown to the person as it is.

PipelineError
├── RegistryError     unknown version, wrong status, no previous deployment
├── DeployError       the model server refused or failed the swap
└── SmokeTestFailed   the deployed model did not classify the smoke set right
"""

from __future__ import annotations

__all__ = ["DeployError", "PipelineError", "RegistryError", "SmokeTestFailed"]


class PipelineError(Exception):
    """A pipeline command failed for a reason a person can act on."""


class RegistryError(PipelineError):
    pass


class DeployError(PipelineError):
    pass


class SmokeTestFailed(DeployError):
    pass
