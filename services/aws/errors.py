"""The one error the AWS commands raise: a message for the operator, exit code 1.

AwsCommandError      a step failed or was refused; `str(error)` says why and what to do
"""

from __future__ import annotations

__all__ = ["AwsCommandError"]


class AwsCommandError(Exception):
    """A command stopped: the message names the stack/resource and the reason."""
