"""`kkot run` as a real process: it says when it is up, serves through the gateway, and
stops cleanly on SIGINT and SIGTERM (exit 0, no traceback). The gateway and web also
start alone with `python -m`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "KKOT_GATEWAY_LOG_FORMAT": "json", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never printed:\n{''.join(lines[-20:])}")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_kkot_run_starts_and_stops_cleanly(
    default_model_dir: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    gateway, web, was, model, metrics = free_ports(5)
    process = _start(
        [
            "services.runner",
            "--model-dir",
            str(default_model_dir),
            "--data-dir",
            str(tmp_path / "was"),
            "--gateway-port",
            str(gateway),
            "--web-port",
            str(web),
            "--was-port",
            str(was),
            "--model-port",
            str(model),
            "--gateway-metrics-port",
            str(metrics),
        ]
    )
    try:
        _wait_for_line(process, f"kkot is up: http://127.0.0.1:{gateway}", timeout=120)
        status, body = _get(f"http://127.0.0.1:{gateway}/api/v1/models/current")
        assert status == 200 and b'"version"' in body
        status, _ = _get(f"http://127.0.0.1:{gateway}/")
        assert status == 200
        # The gateway's own metrics answer on their port, and count what came before.
        status, body = _get(f"http://127.0.0.1:{metrics}/metrics")
        assert status == 200 and b'route="proxy:was"' in body
        with socket.create_connection(("127.0.0.1", gateway), timeout=10) as live:
            # A History page's live stream is open through the gateway while we stop.
            live.sendall(b"GET /events HTTP/1.1\r\nHost: kkot\r\n\r\n")
            assert live.recv(4096).startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            process.send_signal(sig)
            output, _ = process.communicate(timeout=30)
            stopped_in = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output[-2000:]
    assert "Traceback" not in output
    assert "kkot stopped" in output
    # Open event streams are ended, not waited out for the shutdown timeout.
    assert stopped_in < 4, f"took {stopped_in:.1f}s to stop"


@pytest.mark.parametrize(
    ("module", "prefix"), [("services.gateway", "KKOT_GATEWAY"), ("services.web", "KKOT_WEB")]
)
def test_service_runs_alone(module: str, prefix: str) -> None:
    (port,) = free_ports(1)
    process = _start([module], env={f"{prefix}_PORT": str(port)})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert status == 200 and b'"ok"' in body
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in output
