"""The git hooks (.pre-commit-config.yaml): they run what `make lint` and `make typecheck`
run, with .venv's tools, and they stop a commit for real: pre-commit, in a scratch git
repository with the project's hook configuration, refuses a file that ruff or strict
mypy refuses and lets the corrected file through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / ".pre-commit-config.yaml"
BIN = Path(sys.executable).parent


def _hooks() -> dict[str, dict[str, object]]:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def _make_recipe(target: str) -> list[str]:
    lines = (REPO_ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        # `ruff ... .` checks the tree; the hook passes the staged files instead of `.`.
        recipe.append(line.strip().replace("$(BIN)/", ".venv/bin/").removesuffix(" ."))
    return recipe


def test_the_hooks_run_what_make_lint_and_typecheck_run() -> None:
    entries = {str(hook["entry"]).replace(" --force-exclude", "") for hook in _hooks().values()}
    assert entries == set(_make_recipe("lint") + _make_recipe("typecheck"))
    assert all(hook["language"] == "system" for hook in _hooks().values())


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, timeout=60)


def _pre_commit(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pre-commit"), "run", "--files", "module.py"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


@pytest.mark.skipif(not (BIN / "pre-commit").exists(), reason="pre-commit not installed")
def test_the_hooks_refuse_what_ruff_and_mypy_refuse(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".venv").symlink_to(BIN.parent)  # the hooks' entries are .venv/bin/...
    (repo / ".pre-commit-config.yaml").write_text(CONFIG.read_text(encoding="utf-8"))
    (repo / "pyproject.toml").write_text(
        '[tool.ruff.lint]\nselect = ["F", "I"]\n[tool.mypy]\nfiles = ["module.py"]\nstrict = true\n'
    )
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t"}
    _git(repo, "init", "-q")
    bad = repo / "module.py"

    bad.write_text('"""A module."""\n\nimport os\n\n\ndef f(x):\n    return x\n')
    _git(repo, "add", ".")
    refused = _pre_commit(repo, env)
    assert refused.returncode != 0
    assert "F401" in refused.stdout  # the unused import, from ruff
    assert "Function is missing a type annotation" in refused.stdout  # strict mypy

    bad.write_text('"""A module."""\n\n\ndef f(x: int) -> int:\n    return x\n')
    _git(repo, "add", ".")
    accepted = _pre_commit(repo, env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
