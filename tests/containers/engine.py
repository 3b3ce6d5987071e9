"""The container engine the container tests and `make images` need, set up where missing.

    python -m tests.containers.engine up     install Docker Engine + compose + debootstrap
                                             (apt-get), start `dockerd` if none answers,
                                             make the base image if it is missing
    python -m tests.containers.engine down   stop the `dockerd` that `up` started, if any

Docker Hub may be unreachable, so the images' base can be made here from Debian's own
packages (debootstrap, bookworm: the Python 3.11 the project needs) and imported as
`kkot/base:bookworm`. The root filesystem is cached as a tarball outside the clone
(KKOT_CACHE_DIR, default /var/cache/kkot) because CI starts from a fresh clone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "BASE_IMAGE",
    "cache_dir",
    "daemon_answers",
    "docker",
    "ensure_base_image",
    "ensure_packages",
    "image_exists",
    "start_daemon",
    "stop_daemon",
]

BASE_IMAGE = "kkot/base:bookworm"
_PACKAGES = {
    "dockerd": "docker.io",
    "docker-compose": "docker-compose",
    "debootstrap": "debootstrap",
}
# minbase + what the Dockerfiles use: python3 (3.11 on bookworm) with venv, `python` on
# PATH as in the official image, and the CA bundle pip's own certificates sit beside.
_BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
_MIRROR = os.environ.get("KKOT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
_PIDFILE = Path("/run/kkot-dockerd.pid")
_DAEMON_WAIT_S = 90


def cache_dir() -> Path:
    """Where the base image's tarball and the daemon's log live (outside the clone)."""
    return Path(os.environ.get("KKOT_CACHE_DIR", "/var/cache/kkot"))


def docker() -> str:
    """The docker CLI (any recent one talks to Engine 20.10's API)."""
    found = shutil.which("docker")
    if found is None:
        raise RuntimeError("no docker CLI on PATH (run `python -m tests.containers.engine up`)")
    return found


def _log(message: str) -> None:
    sys.stderr.write(f"[engine] {message}\n")


def ensure_packages() -> list[str]:
    """apt-get install what is missing; the list of packages installed."""
    missing = sorted({pkg for tool, pkg in _PACKAGES.items() if shutil.which(tool) is None})
    if missing:
        _log(f"installing {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    return missing


def daemon_answers() -> bool:
    """True when a Docker daemon answers the CLI."""
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(
        [docker(), "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode == 0


def start_daemon() -> bool:
    """Start `dockerd` in the background unless one answers; True if this call started it."""
    if daemon_answers():
        return False
    cache_dir().mkdir(parents=True, exist_ok=True)
    log = (cache_dir() / "dockerd.log").open("ab")
    process = subprocess.Popen(
        ["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _PIDFILE.write_text(str(process.pid))
    deadline = time.monotonic() + _DAEMON_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockerd exited ({process.returncode}); see {log.name}")
        if daemon_answers():
            _log(f"started dockerd (pid {process.pid}, log {log.name})")
            return True
        time.sleep(1)
    raise RuntimeError(f"dockerd did not answer within {_DAEMON_WAIT_S}s; see {log.name}")


def stop_daemon() -> bool:
    """Stop the `dockerd` that `start_daemon` started (by its recorded pid); True if so."""
    if not _PIDFILE.exists():
        return False
    pid = int(_PIDFILE.read_text())
    _PIDFILE.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _log(f"stopped dockerd (pid {pid})")
            return True
        time.sleep(0.5)
    raise RuntimeError(f"dockerd (pid {pid}) did not stop within 60s")


def image_exists(tag: str) -> bool:
    """True when the daemon holds an image tagged `tag`."""
    result = subprocess.run(
        [docker(), "image", "inspect", tag], capture_output=True, timeout=60, check=False
    )
    return result.returncode == 0


def _make_rootfs_tarball(tarball: Path) -> None:
    """debootstrap a minimal bookworm with Python 3.11 and pack it as `tarball`."""
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="rootfs-") as work:
        rootfs = Path(work) / "rootfs"
        _log(f"debootstrap bookworm into {rootfs} (a few minutes, once)")
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={_BASE_PACKAGES}",
                "bookworm",
                str(rootfs),
                _MIRROR,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Package caches, lists and docs are not needed in an image.
        for leftover in (
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
            "usr/share/locale",
        ):
            shutil.rmtree(rootfs / leftover, ignore_errors=True)
            (rootfs / leftover).mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-czf", str(partial), "."], check=True
        )
        partial.replace(tarball)


def ensure_base_image(tag: str = BASE_IMAGE) -> None:
    """Import `tag` from the cached root filesystem, making the cache first if needed."""
    if image_exists(tag):
        return
    cache_dir().mkdir(parents=True, exist_ok=True)
    tarball = cache_dir() / "base-bookworm.tar.gz"
    if not tarball.exists():
        _make_rootfs_tarball(tarball)
    _log(f"importing {tarball} as {tag}")
    subprocess.run(
        [
            docker(),
            "import",
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            'CMD ["python3"]',
            str(tarball),
            tag,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.containers.engine", description=__doc__)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument(
        "--base-image", default=BASE_IMAGE, help="tag to make if missing ('' = none)"
    )
    args = parser.parse_args(argv)
    if args.action == "down":
        stop_daemon()
        return 0
    ensure_packages()
    start_daemon()
    if args.base_image == BASE_IMAGE:
        ensure_base_image(args.base_image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
