"""Where the commands' progress goes: one line at a time on stdout, flushed at once, so
an operator (or a CodeBuild log) sees each stack event when it happens."""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["Report", "say"]

Report = Callable[[str], None]


def say(line: str) -> None:
    """Write one line of progress."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
