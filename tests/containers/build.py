"""`make images`: build every image of `catalog.IMAGES` with the classic builder, tagged
`kkot/<name>:local`, and report each one's build time and size.

    python -m tests.containers.build [NAME ...]

Environment:
    PYTHON_IMAGE     base image (default kkot/base:bookworm, made by `engine up`; the
                     Dockerfiles' own default is the official python:3.11-slim-bookworm)
    EXTRA_CA_CERTS   PEM text pip must trust in the builder stages (a TLS-intercepting
                     proxy's CA). Unset: the host's local CAs, /usr/local/share/ca-certificates
                     /*.crt, which is where Debian keeps the ones it adds to its bundle.
                     Never copied into an image.
    PIP_FIND_LINKS   folders searched for a local torch-2.13.0+cpu wheel for the training
                     image (the CPU index may be unreachable); else the Dockerfile's index.

The classic builder (DOCKER_BUILDKIT=0) is used on purpose: it is what docker-compose 1.29
builds with, and it needs no image from Docker Hub.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.containers.catalog import IMAGES, Image
from tests.containers.engine import BASE_IMAGE, docker, image_exists

__all__ = ["Built", "build_image", "build_images", "extra_ca_certs"]

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = REPO_ROOT / "build" / "images"
TORCH_WHEELS_IMAGE = "kkot/torch-wheels:local"
_LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
_TORCH_WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux*.whl"


@dataclass(frozen=True)
class Built:
    """One image built: its tag, seconds taken and size in bytes."""

    tag: str
    seconds: float
    size: int


def extra_ca_certs() -> str:
    """The PEM text passed as EXTRA_CA_CERTS (see the module docstring)."""
    if "EXTRA_CA_CERTS" in os.environ:
        return os.environ["EXTRA_CA_CERTS"]
    return "".join(p.read_text() for p in sorted(_LOCAL_CA_DIR.glob("*.crt")))


def _build_env() -> dict[str, str]:
    return {**os.environ, "DOCKER_BUILDKIT": "0", "EXTRA_CA_CERTS": extra_ca_certs()}


def _run_logged(command: list[str], log: Path, cwd: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        result = subprocess.run(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=_build_env(), check=False
        )
    if result.returncode != 0:
        tail = log.read_text().splitlines()[-40:]
        raise RuntimeError(f"{' '.join(command[:6])}... failed; {log}:\n" + "\n".join(tail))


def _torch_wheels_image() -> str | None:
    """An image with the local CPU torch wheel in /wheels, if the host has the wheel."""
    for folder in os.environ.get("PIP_FIND_LINKS", "").split():
        wheels = sorted(Path(folder).glob(_TORCH_WHEEL))
        if not wheels:
            continue
        # The wheel is pinned (torch==2.13.0+cpu): once made, the image is reused rather
        # than sending ~190 MB of context to the daemon on every run.
        if image_exists(TORCH_WHEELS_IMAGE):
            return TORCH_WHEELS_IMAGE
        # A context of just the wheel (hard-linked when possible: it is ~190 MB).
        with tempfile.TemporaryDirectory(dir=REPO_ROOT / "build") as context:
            target = Path(context) / wheels[-1].name
            try:
                os.link(wheels[-1], target)
            except OSError:
                target.write_bytes(wheels[-1].read_bytes())
            (Path(context) / "Dockerfile").write_text(
                "FROM scratch\nCOPY torch-*.whl /wheels/\n", encoding="utf-8"
            )
            _run_logged(
                [docker(), "build", "--tag", TORCH_WHEELS_IMAGE, context],
                LOG_DIR / "torch-wheels.log",
                REPO_ROOT,
            )
        return TORCH_WHEELS_IMAGE
    return None


def build_image(image: Image, base: str, torch_wheels: str | None) -> Built:
    """Build one image from the repository root; its build time and size."""
    command = [
        docker(),
        "build",
        "--force-rm",
        "--file",
        image.dockerfile,
        "--tag",
        image.local_tag,
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--build-arg",
        "EXTRA_CA_CERTS",
    ]
    if image.target is not None:
        command += ["--target", image.target]
    if torch_wheels is not None and not image.serving:
        command += ["--build-arg", f"TORCH_WHEELS={torch_wheels}"]
    started = time.monotonic()
    _run_logged([*command, "."], LOG_DIR / f"{image.name}.log", REPO_ROOT)
    seconds = time.monotonic() - started
    size = subprocess.run(
        [docker(), "image", "inspect", "--format", "{{.Size}}", image.local_tag],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return Built(image.local_tag, seconds, int(size))


def build_images(names: Sequence[str] = (), jobs: int = 2) -> list[Built]:
    """Build the named images (all by default), `jobs` at a time.

    Two at a time suit a 2-core machine: a build waits on downloads as much as on CPU."""
    base = os.environ.get("PYTHON_IMAGE", BASE_IMAGE)
    chosen = [i for i in IMAGES if not names or i.name in names]
    (REPO_ROOT / "build").mkdir(exist_ok=True)
    torch_wheels = _torch_wheels_image() if any(not i.serving for i in chosen) else None
    # The serving model image first, alone: the training image shares its first stage, and
    # two concurrent builds of one stage make two images of it, after which the cache
    # finds only one of them and the training image rebuilds torch. Then the training
    # image, the longest, first in the pool so the others fill the other slot.
    results = {i.name: build_image(i, base, torch_wheels) for i in chosen if i.name == "model"}
    ordered = sorted((i for i in chosen if i.name not in results), key=lambda i: i.serving)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {i.name: pool.submit(build_image, i, base, torch_wheels) for i in ordered}
        built = []
        for image in chosen:
            result = results.get(image.name) or futures[image.name].result()
            sys.stderr.write(
                f"[images] {result.tag:<24} {result.seconds:6.0f} s {result.size / 1e6:8.0f} MB\n"
            )
            built.append(result)
    return built


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.containers.build", description=__doc__)
    parser.add_argument("names", nargs="*", help="images to build (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="builds at a time (default 2)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    build_images(args.names, args.jobs)
    sys.stderr.write(f"[images] all built in {time.monotonic() - started:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
