"""The lock files (requirements/*.txt, services/ci/lock.py): every package pinned with its
hashes, in step with pyproject.toml, one version of a package everywhere, torch the CPU
build and only where training needs it, each installed by what it is made for; and
`make lock`'s command, run for real on a copy of the repository, writes exactly the committed
files (so they cannot be edited by hand or left behind a change of pyproject.toml)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from services.ci.lock import ALL, LOCK_SETS, lock_file
from services.images import IMAGES

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# The locks' target (services.ci.lock): markers are evaluated for it.
TARGET = {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": "3.11"}
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)")


def pins(name: str) -> dict[str, tuple[str, list[str]]]:
    """Package -> (version, hashes) of one lock file; fails on any line that is not a pin."""
    text = (REPO_ROOT / lock_file(name)).read_text(encoding="utf-8")
    found: dict[str, tuple[str, list[str]]] = {}
    # A requirement and its `--hash` options are one logical line (backslash-continued).
    for entry in re.sub(r"\\\n", " ", text).splitlines():
        line = entry.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        assert match, f"{lock_file(name)}: not an exact pin: {line}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        found[canonicalize_name(match[1])] = (match[2], hashes)
    return found


def requirements(name: str) -> list[Requirement]:
    """The direct requirements of lock set `name` (ALL: every extra), self-references like
    kkot[web,infra] expanded."""
    optional: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
    wanted, seen = list(optional if name == ALL else LOCK_SETS[name]), set()
    found = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            requirement = Requirement(text)
            if requirement.name == PYPROJECT["project"]["name"]:
                wanted += sorted(requirement.extras)
            else:
                found.append(requirement)
    return found


def test_every_lock_set_has_a_file_and_every_file_a_set() -> None:
    assert {p.stem for p in (REPO_ROOT / "requirements").glob("*.txt")} == set(LOCK_SETS)
    # Every image installs a lock of its own extras.
    assert {i.name: i.extras for i in IMAGES}.items() <= LOCK_SETS.items()


@pytest.mark.parametrize("name", sorted(LOCK_SETS))
def test_every_package_is_pinned_with_hashes(name: str) -> None:
    locked = pins(name)
    assert locked
    assert all(hashes for _, hashes in locked.values()), [
        p for p, (_, h) in locked.items() if not h
    ]


@pytest.mark.parametrize("name", sorted(LOCK_SETS))
def test_the_lock_satisfies_pyproject(name: str) -> None:
    # Fails when pyproject.toml gained or changed a dependency and `make lock` was not run.
    locked = pins(name)
    for requirement in requirements(name):
        if requirement.marker is not None and not requirement.marker.evaluate(TARGET):
            continue
        package = canonicalize_name(requirement.name)
        assert package in locked, f"{lock_file(name)} lacks {requirement}: run make lock"
        version = locked[package][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock_file(name)} pins {package}=={version}, pyproject wants {requirement}"
        )


def test_a_package_has_one_version_in_every_lock() -> None:
    everything = pins(ALL)
    for name in LOCK_SETS:
        for package, (version, hashes) in pins(name).items():
            assert everything[package] == (version, hashes), (name, package)


def test_torch_is_the_cpu_build_and_only_where_training_needs_it() -> None:
    # PyPI's torch 2.13.0 is the CUDA build (with its nvidia-* packages): never locked.
    for name in LOCK_SETS:
        locked = pins(name)
        assert not [p for p in locked if p.startswith("nvidia-")], name
        if name in {ALL, "model-train"}:
            version, hashes = locked["torch"]
            assert version == "2.13.0+cpu"
            assert len(hashes) == 1  # the one wheel: CPython 3.11, x86-64 Linux
    serving = {i.name for i in IMAGES if i.serving}
    assert all("torch" not in pins(name) for name in serving)


def test_every_image_installs_its_lock_with_hash_checking() -> None:
    for image in IMAGES:
        dockerfile = (REPO_ROOT / image.dockerfile).read_text(encoding="utf-8")
        assert f"COPY {lock_file(image.name)} " in dockerfile, image.name
        assert "pip install --require-hashes" in dockerfile
    assert "!requirements/" in (REPO_ROOT / ".dockerignore").read_text().splitlines()


def test_make_setup_and_the_buildspecs_install_from_the_locks() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"LOCK ?= {lock_file(ALL)}" in makefile
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    for buildspec in (
        "buildspec-build.yml",
        "buildspec-model.yml",
        "buildspec-deploy-endpoint.yml",
    ):
        text = (REPO_ROOT / "ci" / buildspec).read_text(encoding="utf-8")
        assert f"--require-hashes -r {lock_file('release')}" in text, buildspec


def _torch_wheel_folder() -> bool:
    return any(
        list(Path(folder).glob("torch-2.13.0+cpu-*.whl"))
        for folder in os.environ.get("PIP_FIND_LINKS", "").split()
    )


@pytest.mark.slow
@pytest.mark.skipif(not _torch_wheel_folder(), reason="no torch CPU wheel in PIP_FIND_LINKS")
def test_kkot_ci_lock_writes_exactly_the_committed_files(tmp_path: Path) -> None:
    # The real command on a copy: uv keeps the committed pins, so any difference is an edit
    # by hand or a pyproject.toml change not yet locked.
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(REPO_ROOT / "requirements", tmp_path / "requirements")
    result = subprocess.run(
        [sys.executable, "-m", "services.ci.lock", "--root", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in LOCK_SETS:
        written = (tmp_path / lock_file(name)).read_text(encoding="utf-8")
        committed = (REPO_ROOT / lock_file(name)).read_text(encoding="utf-8")
        assert written == committed, f"{lock_file(name)} differs from `make lock`'s output"
