"""Each service's entry point imports with only its own extra installed (issue 11, defect
1: the web image crashed at start because `shared.events` pulled in aioboto3).

Here the other extras' packages are made unimportable in a fresh interpreter (a finder
on `sys.meta_path` refuses them), so this runs in the unit tests; the container tests
prove the same inside each built image, where those packages are really absent."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from tests.conftest import REPO_ROOT
from tests.containers.catalog import IMAGES, Image
from tests.containers.extras import closure, kkot_requirements, normalized

_BLOCKER = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not in this extra)", name=name)
        return None
sys.meta_path.insert(0, Refuse())
before = set(sys.modules)  # site's .pth hooks (e.g. setuptools') ran before this
import importlib
importlib.import_module(sys.argv[2])
print(",".join(sorted(m for m in set(sys.modules) - before if m.partition(".")[0] in BLOCKED)))
"""


def _modules_of(distributions: frozenset[str]) -> set[str]:
    by_module = metadata.packages_distributions()
    return {
        module
        for module, dists in by_module.items()
        if {normalized(d) for d in dists} <= distributions
    }


def _blocked_modules(image: Image) -> set[str]:
    """Top-level modules of the packages only other extras install."""
    allowed = closure(kkot_requirements(image.extras))
    every_extra = tuple(metadata.metadata("kkot").get_all("Provides-Extra") or [])
    others = closure(kkot_requirements(every_extra))
    return _modules_of(others - allowed) - {"services", "shared", "cfn", "tests"}


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_entry_point_imports_with_only_its_extra(image: Image) -> None:
    blocked = _blocked_modules(image)
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKER, ",".join(sorted(blocked)), image.entry_module],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""


def test_the_event_package_does_not_load_aws_clients() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKER, "aioboto3,aiobotocore,botocore,boto3", "shared.events"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
