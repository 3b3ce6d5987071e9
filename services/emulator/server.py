"""The moto server as a subprocess: real HTTP on a chosen (or free) port, stopped with
its owner. `kkot emulator`, `kkot run --aws-emulator` and the tests' session fixtures
all start moto through `moto_server`.

A subprocess rather than a thread: moto's request handling holds the GIL, and the
services sharing this machine's two cores should not wait for it on their event loop.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from services.emulator.resources import DUMMY_CREDENTIALS
from shared.ports import free_port
from shared.processes import stop_process

__all__ = ["EmulatorFailed", "moto_server"]


class EmulatorFailed(RuntimeError):
    """The moto server did not start, or the stack could not be created in it."""


@contextlib.contextmanager
def moto_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    module: str = "moto.server",
    cwd: Path | None = None,
    start_timeout_s: float = 30.0,
) -> Iterator[str]:
    """Run `python -m <module> -H host -p port` (port 0: a free one) with the dummy
    credentials; yield its URL (as reached locally) once it answers; stop it after.
    `module` is moto's server or one that patches moto first and takes its arguments
    (the tests' tests/ops/moto_changesets.py, importable from `cwd`)."""
    port = port or free_port(host)
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "-H", host, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **DUMMY_CREDENTIALS},
        cwd=cwd,
    )
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{local}:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise EmulatorFailed(
                        f"moto server ({module}) exited ({proc.returncode}); is port {port} free?"
                    ) from None
                if time.monotonic() > deadline:
                    raise EmulatorFailed(
                        f"moto server ({module}) not up in {start_timeout_s:g}s"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        stop_process(proc, grace_s=10)
