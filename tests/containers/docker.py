"""Small helpers over the docker CLI for the container tests."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from shared.ports import free_port
from tests.containers.engine import docker

__all__ = ["free_port", "inspect", "run", "wait_http"]


def run(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`docker ARGS...`; raises with the output when `check` and it fails."""
    result = subprocess.run(
        [docker(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args[:4])}... exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def inspect(tag: str) -> dict[str, Any]:
    """`docker image inspect` of one image."""
    found: list[dict[str, Any]] = json.loads(run("image", "inspect", tag).stdout)
    return found[0]


def wait_http(url: str, timeout_s: float) -> None:
    """Until `url` answers 200 (or fail after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
                last = response.status
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response open
            last = exc.code
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(f"{url} did not answer 200 within {timeout_s:.0f}s (last: {last!r})")
