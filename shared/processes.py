"""Stopping a child process the one way kkot does: SIGTERM, a grace period for its
clean shutdown (servers drain and close their stores), then SIGKILL."""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["stop_process"]


def stop_process(process: subprocess.Popen[Any], grace_s: float) -> int:
    """Terminate `process`, kill it if it has not exited after `grace_s` seconds; its
    exit code (negative: the signal that ended it)."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
