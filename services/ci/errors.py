"""The one error the `kkot ci` commands raise: a step that cannot go on, with a message
for the build log."""

from __future__ import annotations

__all__ = ["CiError"]


class CiError(Exception):
    """A CI step failed; the message says what to fix."""
