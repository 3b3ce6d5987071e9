"""`stop_process`: SIGTERM, a grace period, then SIGKILL; real child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from shared.processes import stop_process

_IGNORES_TERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_process_that_obeys_sigterm_stops_at_once() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.monotonic()
    assert stop_process(process, grace_s=20) == -signal.SIGTERM
    assert time.monotonic() - started < 10


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    process = subprocess.Popen([sys.executable, "-c", _IGNORES_TERM], stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"  # the handler is in place
    started = time.monotonic()
    assert stop_process(process, grace_s=0.5) == -signal.SIGKILL
    assert time.monotonic() - started >= 0.5
    process.stdout.close()


def test_a_process_that_already_exited_keeps_its_code() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(timeout=20)
    assert stop_process(process, grace_s=1) == 3
