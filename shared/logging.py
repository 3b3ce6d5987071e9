"""structlog set-up shared by every service.

One call, `configure_logging`, at process start. Context variables (request id,
service name) are merged into every line, so a handler never passes them on by hand.
JSON lines in production; a readable console renderer when stderr is a terminal.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from shared.settings import LogFormat

__all__ = ["configure_logging", "get_logger"]


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at write time.

    Binding the stream object at configuration time breaks when it is later swapped
    and closed (pytest's capture, a daemon redirecting its output): every log call
    would then raise `ValueError: I/O operation on closed file`.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", fmt: LogFormat = "auto") -> None:
    """Configure structlog and the stdlib root logger (aiohttp, botocore) alike."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any
    if use_json:
        shared_processors.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer()
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*shared_processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    # Route stdlib logging (aiohttp, botocore, asyncio) through the same renderer.
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared_processors,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # aiohttp's own access log would duplicate our canonical request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; `name` becomes the `logger` key."""
    return structlog.get_logger(name) if name else structlog.get_logger()
