"""Logging set-up: output follows the current stderr, JSON when not on a terminal."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from shared.logging import configure_logging


@pytest.fixture(autouse=True)
def _reset_structlog() -> object:
    yield None
    structlog.reset_defaults()


def test_logging_survives_the_configured_stderr_being_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("info", "json")
    first.close()  # as pytest does with a finished test's capture
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)

    structlog.get_logger("t").info("still_here", answer=42)

    line = json.loads(second.getvalue().strip().splitlines()[-1])
    assert line["event"] == "still_here"
    assert line["answer"] == 42
    assert line["level"] == "info"
    assert "timestamp" in line


def test_context_variables_are_merged_into_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("info", "json")
    with structlog.contextvars.bound_contextvars(request_id="abc", service="was"):
        structlog.get_logger().info("hello")
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (line["request_id"], line["service"]) == ("abc", "was")
