"""A moto server for the tests: a subprocess on a free 127.0.0.1 port, spoken to over
real HTTP by the real AWS clients, with dummy credentials.

`moto_server()` is shared by tests/aws (plain moto) and tests/ops (moto with the
CloudFormation fixes of tests/ops/moto_changesets.py, run as `module`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CREDENTIALS", "REGION", "moto_server"]

REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def moto_server(module: str = "moto.server") -> Iterator[str]:
    """Start `python -m <module> -p PORT -H 127.0.0.1`, yield its URL once it answers,
    stop it afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "-p", str(port), "-H", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server ({module}) did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
