"""`make lock` (`python -m services.ci.lock`, also `kkot ci lock`): the hashed
requirement files in requirements/, made from pyproject.toml by `uv pip compile`.

Standard library only (and services.images): it must run in a virtualenv that still
lacks the dependency just added to pyproject.toml, which `kkot` itself may import.

One file per set of extras that something installs: `all` (every extra: the development
virtualenv of `make setup`), one per image of `services.images.IMAGES` (its Dockerfile
installs it) and `release` (the CodeBuild projects' `kkot`, ci/buildspec-*.yml). `all`
is resolved first and constrains the others, so a package has the same version in every
file. Each file pins every package, dependencies included, with the sha256 of each of its
distributions, and installs with plain pip: `pip install --require-hashes -r FILE`.

The target is fixed (CPython 3.11 on x86-64 Linux, manylinux 2.28: the images' Debian
bookworm, Fargate, SageMaker and the project's machines), so the files do not depend on
the machine that regenerates them. torch is the CPU build, 2.13.0+cpu: `uv` finds it in
the folders of PIP_FIND_LINKS (this project's machines keep the wheel in /opt/wheels)
and records that wheel's hash; PyPI's 2.13.0 is the CUDA build and is never chosen.

Existing pins are kept unless `--upgrade` is given, so adding a dependency changes
only what it brings in."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.images import IMAGES

__all__ = [
    "ALL",
    "LOCK_DIR",
    "LOCK_SETS",
    "PYTHON_PLATFORM",
    "compile_command",
    "lock",
    "lock_file",
    "main",
    "register",
]

LOCK_DIR = Path("requirements")
ALL = "all"
# The extras of each requirement file; ALL stands for every extra of pyproject.toml.
LOCK_SETS: dict[str, tuple[str, ...]] = {
    ALL: (),
    **{image.name: image.extras for image in IMAGES},
    # What ci/buildspec-{build,model,deploy-endpoint}.yml install to run `kkot ci|release`.
    "release": ("was", "web", "infra"),
}
PYTHON_VERSION = "3.11"
PYTHON_PLATFORM = "x86_64-manylinux_2_28"


def lock_file(name: str) -> Path:
    """Where the lock of set `name` lives, relative to the repository root."""
    return LOCK_DIR / f"{name}.txt"


def compile_command(
    uv: str, name: str, find_links: Sequence[str], *, upgrade: bool = False
) -> list[str]:
    """The `uv pip compile` command that writes requirements/<name>.txt."""
    command = [
        uv,
        "pip",
        "compile",
        "pyproject.toml",
        "--quiet",
        "--generate-hashes",
        "--python-version",
        PYTHON_VERSION,
        "--python-platform",
        PYTHON_PLATFORM,
        "--custom-compile-command",
        "make lock",
        "--output-file",
        str(lock_file(name)),
    ]
    for folder in find_links:
        command += ["--find-links", folder]
    if name == ALL:
        command.append("--all-extras")
    else:
        for extra in LOCK_SETS[name]:
            command += ["--extra", extra]
        command += ["--constraint", str(lock_file(ALL))]
    if upgrade:
        command.append("--upgrade")
    return command


def lock(root: Path, *, upgrade: bool = False) -> list[Path]:
    """Regenerate every requirement file under `root`; the files written."""
    # The virtualenv's own uv first (the dev extra pins it), whatever PATH holds.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    uv = shutil.which("uv", path=search)
    if uv is None:
        raise RuntimeError("uv is not installed (the dev extra has it: make setup)")
    find_links = os.environ.get("PIP_FIND_LINKS", "").split()
    (root / LOCK_DIR).mkdir(exist_ok=True)
    written = []
    # ALL first: the other files are constrained by it.
    for name in LOCK_SETS:
        subprocess.run(
            compile_command(uv, name, find_links, upgrade=upgrade),
            cwd=root,
            check=True,
            timeout=600,
        )
        written.append(root / lock_file(name))
    return written


def register(subparsers: Any) -> None:
    """Add `ci lock` to the `kkot ci` parser's sub-commands."""
    parser = subparsers.add_parser("lock", help="regenerate the hashed requirements/*.txt")
    _add_arguments(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m services.ci.lock [--upgrade] [--root DIR]`."""
    parser = argparse.ArgumentParser(prog="python -m services.ci.lock", description=__doc__)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--upgrade", action="store_true", help="newest allowed versions")
    parser.add_argument("--root", type=Path, default=Path(), help="the repository (default .)")
    parser.set_defaults(func=_lock)


def _lock(args: argparse.Namespace) -> int:
    try:
        written = lock(args.root, upgrade=args.upgrade)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"kkot ci lock: {exc}\n")
        return 1
    sys.stderr.write("".join(f"kkot ci lock: wrote {path}\n" for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
