"""Step timing and progress lines of a training job (and of the pipeline around it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from services.model.train.embed import Progress
from shared.logging import get_logger

__all__ = ["StepTimer", "progress_logger"]

_log = get_logger("kkot.train")


class StepTimer:
    """Logs the start and end of named steps and keeps their durations (seconds)."""

    def __init__(self, logger: Any = None) -> None:
        self.timings: dict[str, float] = {}
        self._log = logger or _log

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as step `name` (a repeated name adds up)."""
        self._log.info("step_started", step=name)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.timings[name] = round(self.timings.get(name, 0.0) + elapsed, 3)
            self._log.info("step_finished", step=name, seconds=round(elapsed, 2))


def progress_logger(step: str, every: int) -> Progress:
    """A progress callback that logs a line every `every` images, and at the end."""
    last = [0]

    def progress(done: int, total: int, seconds: float) -> None:
        if done - last[0] >= every or done == total:
            last[0] = done
            rate = done / seconds if seconds else 0.0
            _log.info("progress", step=step, done=done, total=total, images_per_s=round(rate, 1))

    return progress
